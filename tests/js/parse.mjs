// Reads an iCalendar feed on stdin and prints what Mozilla's ical.js makes of it, as JSON.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(0, "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const prop = (component, name) => {
  const value = component.getFirstPropertyValue(name);
  return value === null ? null : String(value);
};
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  return {
    uid: event.uid,
    summary: event.summary,
    location: event.location,
    description: event.description,
    sequence: event.sequence,
    status: prop(vevent, "status"),
    url: prop(vevent, "url"),
    start_tzid: event.startDate.zone ? event.startDate.zone.tzid : null,
    start_unix: event.startDate.toUnixTime(),
    end_unix: event.endDate.toUnixTime(),
    alarms: vevent.getAllSubcomponents("valarm").length,
  };
});
process.stdout.write(
  JSON.stringify({
    method: prop(calendar, "method"),
    version: prop(calendar, "version"),
    name: prop(calendar, "x-wr-calname"),
    refresh_interval: prop(calendar, "refresh-interval"),
    timezones: calendar.getAllSubcomponents("vtimezone").map((z) => prop(z, "tzid")),
    events,
  }),
);
