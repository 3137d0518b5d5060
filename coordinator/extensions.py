"""Extension objects, created unbound; `create_app` binds them. The flask-smorest Api
is made per app in create_app, since it holds its app and OpenAPI document."""

from __future__ import annotations

import marshmallow as ma
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_sqlalchemy import SQLAlchemy

from coordinator.database import Base
from coordinator.redis_connection import RedisConnection


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


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
redis_connection = RedisConnection()
