"""Flask-Babel on kolben: a locale selector (query string, then the session,
then ``Accept-Language``) and a timezone selector, ``gettext`` / ``ngettext`` /
``lazy_gettext`` in views, ``_()``, ``{% trans %}`` and the date, number and
currency filters in templates, ``force_locale`` and ``refresh`` during a
request, the defaults outside one, and Flask-WTF's translated WTForms
messages with a ``lazy_gettext`` label. The German catalog is compiled at test
time from a ``.po`` text (Babel's own reader and writer).

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import asyncio
import io
import typing as t
from datetime import datetime
from pathlib import Path

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import (
    Babel,
    force_locale,
    format_datetime,
    get_locale,
    get_timezone,
    gettext,
    lazy_gettext,
    ngettext,
    refresh,
)
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

GERMAN = """
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "Hello %(name)s!"
msgstr "Hallo %(name)s!"

msgid "Welcome"
msgstr "Willkommen"

msgid "Language changed"
msgstr "Sprache geändert"

msgid "Your basket"
msgstr "Ihr Warenkorb"

msgid "%(num)d item"
msgid_plural "%(num)d items"
msgstr[0] "%(num)d Artikel"
msgstr[1] "%(num)d Artikel"

msgid "%(count)s item"
msgid_plural "%(count)s items"
msgstr[0] "%(count)s Stück"
msgstr[1] "%(count)s Stück"

msgid "one apple"
msgid_plural "%(num)d apples"
msgstr[0] "ein Apfel"
msgstr[1] "%(num)d Äpfel"
"""

PAGE = """<h1>{{ _("Welcome") }}</h1>
<p>{% trans count=items %}{{ count }} item{% pluralize %}{{ count }} items{% endtrans %}</p>
<p>{{ ngettext("one apple", "%(num)d apples", apples) }}</p>
<p>{{ basket }}</p>
<p>{{ when|datetimeformat("short") }}</p>
<p>{{ price|currencyformat("EUR") }}</p>
<p>{{ big|numberformat }}</p>"""

#: A module-level lazy string, translated when it is used.
BASKET = lazy_gettext("Your basket")

WHEN = datetime(2024, 5, 17, 12, 30)


class NoteForm(FlaskForm):
    title = StringField(lazy_gettext("Your basket"), validators=[DataRequired()])


@pytest.fixture(scope="module")
def translations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """translations/de/LC_MESSAGES/messages.mo, compiled from GERMAN."""
    folder = tmp_path_factory.mktemp("babel") / "translations"
    target = folder / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    catalog = read_po(io.StringIO(GERMAN), locale="de")
    with (target / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    return folder


@pytest.fixture
def app(translations: Path) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="flask-babel on kolben",
        BABEL_TRANSLATION_DIRECTORIES=str(translations),
    )

    def select_locale() -> str | None:
        if "lang" in flask.request.args:
            return flask.request.args["lang"]
        if "lang" in flask.session:
            return t.cast(str, flask.session["lang"])
        return flask.request.accept_languages.best_match(["de", "en"])

    def select_timezone() -> str | None:
        return flask.request.args.get("tz")

    babel = Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.extensions["test_babel"] = babel

    @app.get("/hello/<name>")
    def hello(name: str) -> dict[str, t.Any]:
        return {
            "text": gettext("Hello %(name)s!", name=name),
            "items": ngettext("%(num)d item", "%(num)d items", 3),
            "locale": str(get_locale()),
        }

    @app.get("/page")
    async def page() -> str:
        await asyncio.sleep(0)
        return flask.render_template_string(
            PAGE, items=2, apples=1, basket=BASKET, when=WHEN, price=1234.5, big=1234567
        )

    @app.post("/language/<lang>")
    def set_language(lang: str) -> str:
        before = gettext("Language changed")
        flask.session["lang"] = lang
        refresh()  # the new language takes effect in this request already
        return f"{before} / {gettext('Language changed')}"

    @app.get("/mail")
    def mail() -> dict[str, str]:
        with force_locale("en"):
            english = gettext("Welcome")
        return {"page": gettext("Welcome"), "mail": english}

    @app.post("/form")
    def form() -> tuple[dict[str, t.Any], int]:
        # Flask-WTF translates WTForms' messages with Flask-Babel's locale, and
        # keeps the catalog on the request (request.wtforms_translations).
        form = NoteForm(meta={"csrf": False})
        form.validate()
        return {"label": str(form.title.label.text), "errors": form.errors}, 400

    @app.get("/time")
    def time() -> dict[str, str]:
        return {"tz": str(get_timezone()), "when": format_datetime(WHEN, "HH:mm")}

    return app


def test_locale_from_accept_language(client: t.Any) -> None:
    german = client.get("/hello/Ada", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.json == {"text": "Hallo Ada!", "items": "3 Artikel", "locale": "de"}
    english = client.get("/hello/Ada", headers={"Accept-Language": "en-GB"})
    assert english.json == {"text": "Hello Ada!", "items": "3 items", "locale": "en"}
    # Nothing matches: the selector returns None and the default locale is used.
    assert client.get("/hello/Ada", headers={"Accept-Language": "ja"}).json["locale"] == "en"


def test_locale_from_the_query_string(client: t.Any) -> None:
    assert client.get("/hello/Ada?lang=de").json["text"] == "Hallo Ada!"


def test_gettext_in_templates(client: t.Any) -> None:
    german = client.get("/page?lang=de").text.splitlines()
    assert german == [
        "<h1>Willkommen</h1>",
        "<p>2 Stück</p>",
        "<p>ein Apfel</p>",
        "<p>Ihr Warenkorb</p>",
        "<p>17.05.24, 12:30</p>",
        "<p>1.234,50\xa0€</p>",
        "<p>1.234.567</p>",
    ]
    english = client.get("/page?lang=en").text.splitlines()
    assert english[:4] == [
        "<h1>Welcome</h1>",
        "<p>2 items</p>",
        "<p>one apple</p>",
        "<p>Your basket</p>",
    ]
    assert english[5:] == ["<p>€1,234.50</p>", "<p>1,234,567</p>"]


def test_refresh_switches_within_the_request(client: t.Any) -> None:
    assert client.post("/language/de").text == "Language changed / Sprache geändert"
    # And the session keeps it for the next requests.
    assert client.get("/hello/Ada").json["locale"] == "de"


def test_force_locale(client: t.Any) -> None:
    assert client.get("/mail?lang=de").json == {"page": "Willkommen", "mail": "Welcome"}


def test_timezone_selector(client: t.Any) -> None:
    assert client.get("/time").json == {"tz": "UTC", "when": "12:30"}
    assert client.get("/time?tz=Europe/Berlin").json == {"tz": "Europe/Berlin", "when": "14:30"}


def test_wtforms_messages_and_lazy_labels(client: t.Any) -> None:
    german = client.post("/form?lang=de", data={})
    assert german.json == {
        "label": "Ihr Warenkorb",
        "errors": {"title": ["Dieses Feld wird benötigt."]},
    }
    english = client.post("/form?lang=en", data={})
    assert english.json["errors"] == {"title": ["This field is required."]}
    assert english.json["label"] == "Your basket"


def test_outside_a_request(app: flask.Flask) -> None:
    babel: Babel = app.extensions["test_babel"]
    with app.app_context():
        assert sorted(str(locale) for locale in babel.list_translations()) == ["de", "en"]
    with app.test_request_context("/?lang=de"):
        assert str(get_locale()) == "de"
        assert str(BASKET) == "Ihr Warenkorb"
    assert gettext("Welcome") == "Welcome"  # no context at all: untranslated
