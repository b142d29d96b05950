"""villa: the customer-registration system of a villa sales office."""

import logging
import os

from babel import Locale
from flask import Flask, has_request_context, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from villa import crypto, db
from villa.auth import enforce_session_rules, keep_brokers_out, login_manager
from villa.config import PROJECT_ROOT, Config

babel = Babel()
csrf = CSRFProtect()


LANGUAGES = ("zh_Hans", "en")
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}  # parsed once, not on every request


def select_locale() -> str:
    chosen = session.get("lang") if has_request_context() else None
    if chosen in LANGUAGES:
        return chosen
    return "zh_Hans"


def _request_locale() -> Locale:
    return _LOCALES[select_locale()]


def create_app(config=None, check_keys=True):
    """Build the app; `config` is a mapping of overrides (tests give a temp instance)."""
    # Before anything is written: what villa creates (database, WAL, keys, backups, uploads) is
    # the owner's alone. The command line, `villa serve` and its gunicorn workers all start here.
    os.umask(0o077)
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(Config(**(config or {})))
    if app.config["TRUSTED_PROXIES"]:
        # Behind N proxies the client is the address the Nth one from us names; only then.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from villa import metrics

    metrics.init_app(app)  # first: a request's time counts from its first hook
    db.init_app(app)
    from villa.models import Setting

    app.before_request(lambda: Setting.read_once_per_request(True))
    app.teardown_request(lambda _exc: Setting.read_once_per_request(False))
    crypto.load_keys(app.config["KEYS_FILE"])
    if check_keys:
        from villa.instance import check_startup

        check_startup(app.config["KEYS_FILE"])

    babel.init_app(app, locale_selector=_request_locale)
    from villa import i18n, serving

    i18n.init_app(app)

    serving.init_app(app)  # before CSRFProtect: the size limit must apply before the form is read
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    app.before_request(enforce_session_rules)
    app.before_request(keep_brokers_out)

    from villa import labels, security

    security.init_app(app)
    labels.init_app(app)
    _register_blueprints(app)

    @app.context_processor
    def _layout_context():
        from villa.nav import account_links, nav_for

        return {
            "nav_items": nav_for,
            "account_links": account_links,
            "current_lang": select_locale(),
            "request_path": request.path,
        }

    from villa.cli import register_commands

    register_commands(app)
    return app


def _register_blueprints(app):
    from villa.web.account import bp as account_bp
    from villa.web.admin import bp as admin_bp
    from villa.web.agencies import bp as agencies_bp
    from villa.web.analytics import bp as analytics_bp
    from villa.web.broker import bp as broker_bp
    from villa.web.clients import bp as clients_bp
    from villa.web.corrections import bp as corrections_bp
    from villa.web.deals import bp as deals_bp
    from villa.web.disputes import bp as disputes_bp
    from villa.web.errors import bp as errors_bp
    from villa.web.health import bp as health_bp
    from villa.web.home import bp as home_bp
    from villa.web.incidents import bp as incidents_bp
    from villa.web.logs import bp as logs_bp
    from villa.web.notifications import bp as notifications_bp
    from villa.web.outbox import bp as outbox_bp
    from villa.web.pool import bp as pool_bp
    from villa.web.reception import bp as reception_bp
    from villa.web.review import bp as review_bp

    for blueprint in (
        errors_bp,
        health_bp,
        account_bp,
        home_bp,
        clients_bp,
        admin_bp,
        reception_bp,
        disputes_bp,
        deals_bp,
        pool_bp,
        corrections_bp,
        outbox_bp,
        review_bp,
        logs_bp,
        analytics_bp,
        agencies_bp,
        incidents_bp,
        notifications_bp,
        broker_bp,
    ):
        app.register_blueprint(blueprint)
