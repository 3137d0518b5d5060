"""Extension objects, created unbound; `create_app` binds them. The flask-smorest Api
is made per app in create_app, since it holds its app and OpenAPI document."""

from __future__ import annotations

import marshmallow as ma
from flask import Flask, g
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from webargs.flaskparser import FlaskParser

from coordinator.database import Base
from coordinator.redis_connection import RedisConnection
from coordinator.replica import RoutingSession


class ErrorSchema(ma.Schema):
    """The contract's error body (documents every error response)."""

    error = ma.fields.String(required=True, metadata={"example": "validation_error"})
    message = ma.fields.String(required=True)
    messages = ma.fields.Dict(
        keys=ma.fields.String(), metadata={"description": "Field name to a list of messages"}
    )


class Api(SmorestApi):
    """flask-smorest's Api, documenting our error shape instead of its own."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        # coordinator.errors installs the handlers; see register_error_handlers.
        pass


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint whose arguments follow the schema's `unknown` (RAISE) in
    every location: webargs would otherwise drop unknown query parameters silently, so a
    misspelt filter (`?targetgroup=`) would answer for everything instead of saying so."""

    ARGUMENTS_PARSER = FlaskParser(unknown=None)


class RequestLoginManager(LoginManager):
    """Flask-Login caches the caller in flask.g, which lives as long as the app context.
    A context can outlive a request (a test or CLI that pushed one), and the next request
    would then run as the previous caller; forget the caller when each request ends."""

    def init_app(self, app: Flask, add_context_processor: bool = True) -> None:
        super().init_app(app, add_context_processor)
        app.teardown_request(_forget_caller)


def _forget_caller(_error: BaseException | None) -> None:
    g.pop("_login_user", None)


db = SQLAlchemy(
    model_class=Base, session_options={"expire_on_commit": False, "class_": RoutingSession}
)
migrate = Migrate()
login_manager = RequestLoginManager()
redis_connection = RedisConnection()
csrf = CSRFProtect()
