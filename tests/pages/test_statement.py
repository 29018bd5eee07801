"""The statement a client receives (SPEC-2 §13, issue 17): contract §8's worked example,
recorded through the API, printed to PDF by Chromium in French and in English; its text
(pdftotext) carries the figures and each credit written out; A4 portrait (pdfinfo); the
HTML fits 794 px (A4 at 96 dpi) in a real browser."""
from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from collector.render import statement as statement_render
from tests.collector.server import auth, config_text, running_app
from tests.helpers import need_binary
from tests.sla.through_api import record_worked_example

URL = "{}/api/v1/services/acme-web/sla"
# a 1x1 PNG: the logo is embedded as a data: URI, the statement has no external asset
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

EXPECTED = {
    "fr": ["Relevé de niveau de service", "Période : septembre 2026", "ACME SARL",
           "Hébergeur Exemple", "12 rue des Serveurs", "69002 Lyon",
           "Disponibilité 99,2097 %", "Objectif 99,9 % (manqué)",
           # contract §5, §6, 5.1 written out
           "5 tranches × 2,5 % × 300,00 € = 37,50 €",
           ("rétabli en 5 h 10 min, GTR 4 h, dépassement de 1 h 10 min → palier 30 % × "
           "300,00 € = 90,00 €"),
           "Total des avoirs : 37,50 € + 90,00 € = 127,50 €",
           "réglées par avoir sur la prochaine facture", "section 5.1",
           # incidents with their summary and the reason of a change; times in Paris
           "25 septembre 2026, 08:00", "outage 4 of contract §8",
           "prestataire → tiers. Motif : the carrier's fibre cut",
           "tiers → prestataire. Motif : our router after all",
           # the window, its notice date, planned
           "20 septembre 2026, 02:00", "5 septembre 2026, 02:00", "Planifiée (exclue)"],
    "en": ["Service level statement", "Period: September 2026", "ACME SARL",
           "Hébergeur Exemple", "Availability 99.2097 %", "Target 99.9 % (missed)",
           "5 slices × 2.5 % × €300.00 = €37.50",
           ("restored in 5 h 10 min, GTR 4 h, overrun 1 h 10 min → tier 30 % × €300.00 = "
           "€90.00"),
           "Total credit: €37.50 + €90.00 = €127.50",
           "paid as a credit note on the next invoice", "section 5.1",
           "25 September 2026, 08:00", "outage 4 of contract §8",
           "provider → third party. Reason: the carrier's fibre cut",
           "20 September 2026, 02:00", "5 September 2026, 02:00", "Planned (excluded)"],
}
OTHER = {"fr": "en", "en": "fr"}


def statement_config(tmp_path: Path, language: str) -> str:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    return config_text(f"""
[branding]
name = "Hébergeur Exemple"
logo = "{logo}"
address = "12 rue des Serveurs\\n69002 Lyon"
""").replace('id = "acme"\n', f'id = "acme"\nname = "ACME SARL"\nlanguage = "{language}"\n', 1)


def flat(text: str) -> str:
    """Text with every run of spaces (Babel's no-break spaces, pdftotext's line breaks)
    as one space."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def get(base: str, who: str = "acme", **query: str) -> requests.Response:
    return requests.get(URL.format(base), params={"month": "2026-09", **query},
                        headers=auth(who), timeout=120)


def record(base: str) -> None:
    """contract §8, then a responsibility changed and changed back, each with a reason
    (the figures stay the worked example's)."""
    ids = record_worked_example(base, notice_days=15)
    for who, why in (("third_party", "the carrier's fibre cut"),
                     ("provider", "our router after all")):
        moved = requests.patch(f"{base}/api/v1/incidents/{ids[1]}", headers=auth("admin"),
                               json={"responsibility": who, "reason": why}, timeout=10)
        assert moved.status_code == 200, moved.text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_worked_example_statement_in_the_clients_language(
        db_url: str, tmp_path: Path, lang: str, browser: Any) -> None:
    pdftotext, pdfinfo = need_binary("pdftotext"), need_binary("pdfinfo")
    with running_app(statement_config(tmp_path, lang), db_url) as app:
        record(app.base_url)
        pdf = get(app.base_url, format="pdf")  # no ?lang: the client's language
        html = get(app.base_url, format="statement")
        other = get(app.base_url, format="statement", lang=OTHER[lang])
        other_client = get(app.base_url, who="globex", format="pdf")
        bad_lang = get(app.base_url, format="statement", lang="de")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    out = tmp_path / "statement.pdf"
    out.write_bytes(pdf.content)
    text = flat(subprocess.run([pdftotext, str(out), "-"], capture_output=True, text=True,
                               check=True, timeout=60).stdout)
    missing = [line for line in EXPECTED[lang] if flat(line) not in text]
    assert not missing, f"not in the PDF's text: {missing}\n{text}"
    info = subprocess.run([pdfinfo, str(out)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert "(A4)" in info and width < height, info  # A4 portrait
    # the page: in the client's language, its logo inline, no script; ?lang= overrides
    assert html.status_code == 200 and f'<html lang="{lang}">' in html.text
    assert "data:image/png;base64," in html.text and "<script" not in html.text.lower()
    assert f'<html lang="{OTHER[lang]}">' in other.text
    assert f"<h1>{EXPECTED[OTHER[lang]][0]}</h1>" in other.text
    assert other_client.status_code == 404
    assert bad_lang.status_code == 422 and "lang" in bad_lang.json()["error"]
    # A4 width at 96 dpi: nothing wider than the page
    tab = browser.new_page(viewport={"width": 794, "height": 1123})
    try:
        tab.set_content(html.text)
        assert tab.evaluate("document.documentElement.scrollWidth") <= 794
    finally:
        tab.close()


def test_a_pdf_without_chromium_is_a_503(db_url: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statement_render, "CHROMIUM", ("no-such-chromium-here",))
    with running_app(statement_config(tmp_path, "fr"), db_url) as app:
        answer = get(app.base_url, format="pdf")
        page = get(app.base_url, format="statement")
    assert answer.status_code == 503 and "chromium" in answer.json()["error"]
    assert page.status_code == 200  # the HTML statement needs no browser
