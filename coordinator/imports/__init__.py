"""CSV imports as background jobs: the uploaded file waits in `import_jobs`, a worker
imports it (volunteers or population targets) and the organizer follows a progress bar."""
