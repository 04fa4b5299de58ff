"""The TwiML the voice channel answers with, parsed and checked element by element."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hub.channels.twilio.voice import twiml
from hub.channels.twilio.voice.settings import VoiceOptions, parse_voice_options
from tests.channels.twilio.voice.config import HOLD_MUSIC, voice_channel, voice_settings

LINKS = twiml.Links.of("https://hub.example.test/", "hotline")


def _options(tmp_path: Path, **overrides: object) -> VoiceOptions:
    config = voice_channel(**overrides)
    return parse_voice_options(config, voice_settings("sqlite+aiosqlite://", tmp_path, config))


def _parse(document: str) -> ET.Element:
    root = ET.fromstring(document)
    assert root.tag == "Response"
    return root


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_menu_listens_for_keys_and_speech_in_the_callers_language(tmp_path: Path) -> None:
    root = _parse(twiml.menu(_options(tmp_path), LINKS, "de-DE"))
    (gather,) = root
    assert gather.tag == "Gather"
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "de-DE"
    assert gather.get("numDigits") == "1"
    assert "Rechnung" in (gather.get("hints") or "")
    assert gather.get("action", "").startswith("https://hub.example.test/webhooks/twilio/voice/hotline/menu?")
    assert _query(gather.get("action", "")) == {"attempt": ["1"], "lang": ["de-DE"]}
    says = [(s.text, s.get("language")) for s in gather.findall("Say")]
    assert says == [("Willkommen.", "de-DE"), ("Für Rechnungen drücken Sie 1, für Hilfe die 2. For English press 9.", "de-DE")]


def test_an_answer_that_matched_nothing_asks_again(tmp_path: Path) -> None:
    root = _parse(twiml.not_understood(_options(tmp_path), LINKS, "en-US", 2))
    assert [child.tag for child in root] == ["Say", "Gather"]
    assert root[0].text == "Sorry, I did not understand that."
    assert _query(root[1].get("action", "")) == {"attempt": ["2"], "lang": ["en-US"]}


def test_enqueue_waits_in_the_twilio_queue_with_a_wait_url(tmp_path: Path) -> None:
    root = _parse(twiml.enqueue(_options(tmp_path), LINKS, "de-DE", "hotline.billing", notice=True))
    (enqueue,) = root  # no recording, so no privacy notice
    assert enqueue.tag == "Enqueue" and enqueue.text == "hotline.billing"
    assert enqueue.get("waitUrl") == "https://hub.example.test/webhooks/twilio/voice/hotline/wait?lang=de-DE"
    assert enqueue.get("action") == "https://hub.example.test/webhooks/twilio/voice/hotline/queue-exit?lang=de-DE"


def test_with_recording_on_the_privacy_notice_comes_before_anything_is_recorded(tmp_path: Path) -> None:
    options = _options(tmp_path, record_calls=True)
    root = _parse(twiml.enqueue(options, LINKS, "de-DE", "hotline.support", notice=True))
    assert [child.tag for child in root] == ["Say", "Enqueue"]
    assert "aufgezeichnet" in (root[0].text or "")
    dial = _parse(twiml.connect(options, LINKS, "de-DE", twiml.AgentTarget(phone="+4930123456"), offer_id=7,
                                timeout=20, call_id="CA" + "1" * 32, queue="support"))[0]
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.get("recordingStatusCallback") == "https://hub.example.test/webhooks/twilio/voice/hotline/recording"


def test_the_wait_music_announces_the_position(tmp_path: Path) -> None:
    root = _parse(twiml.wait(_options(tmp_path), "en-US", 3))
    assert [(c.tag, c.text) for c in root] == [("Say", "You are number 3 in the queue."), ("Play", HOLD_MUSIC)]
    quiet = _parse(twiml.wait(_options(tmp_path, announce_position=False), "en-US", 3))
    assert [c.tag for c in quiet] == ["Play"]


def test_connect_dials_the_agents_number_with_a_whisper_naming_the_queue(tmp_path: Path) -> None:
    options = _options(tmp_path)
    call = "CA" + "a" * 32
    root = _parse(twiml.connect(options, LINKS, "en-US", twiml.AgentTarget(phone="+4930123456"), offer_id=42,
                                timeout=15, call_id=call, queue="billing"))
    (dial,) = root
    assert dial.tag == "Dial" and dial.get("timeout") == "15" and dial.get("record") is None
    assert _query(dial.get("action", "")) == {"lang": ["en-US"], "offer": ["42"]}
    (number,) = dial
    assert number.tag == "Number" and number.text == "+4930123456"
    assert _query(number.get("url", "")) == {"call": [call], "lang": ["en-US"], "offer": ["42"], "queue": ["billing"]}
    sip = _parse(twiml.connect(options, LINKS, "en-US", twiml.AgentTarget(phone="+4930123456", sip="sip:anna@pbx.example.test"),
                               offer_id=42, timeout=15, call_id=call, queue="billing"))[0][0]
    assert sip.tag == "Sip" and sip.text == "sip:anna@pbx.example.test"
    whisper = _parse(twiml.whisper(options, "de-DE", "billing"))
    assert [(c.tag, c.text) for c in whisper] == [("Say", "Anruf aus der Warteschlange billing.")]


def test_closed_hours_announce_and_record_a_voicemail_with_transcription(tmp_path: Path) -> None:
    root = _parse(twiml.closed(_options(tmp_path), LINKS, "de-DE"))
    assert [c.tag for c in root] == ["Say", "Say", "Record", "Hangup"]
    assert root[0].text == "Wir sind gerade nicht erreichbar."
    record = root[2]
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == "https://hub.example.test/webhooks/twilio/voice/hotline/transcription"
    assert record.get("maxLength") == "120"
    assert record.get("action") == "https://hub.example.test/webhooks/twilio/voice/hotline/voicemail?lang=de-DE"
    no_voicemail = _parse(twiml.closed(_options(tmp_path, voicemail=False), LINKS, "de-DE"))
    assert [c.tag for c in no_voicemail] == ["Say", "Say", "Hangup"]


def test_queue_names_fit_twilio(tmp_path: Path) -> None:
    assert twiml.twilio_queue_name("hotline", "billing") == "hotline.billing"
    assert len(twiml.twilio_queue_name("h" * 50, "q" * 50)) == twiml.MAX_QUEUE_NAME
