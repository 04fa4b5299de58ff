"""The demo company's people and conversation scripts (``hub demo``).

All of it is fictional: addresses use the reserved example.com/.org/.net domains,
German phone numbers the Bundesnetzagentur's ranges for film and TV (030 23125,
040 66969, 089 99998) and British ones Ofcom's drama range (020 7946 0xxx).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StaffMember:
    email: str
    name: str
    role: str
    queues: tuple[str, ...]
    skills: tuple[tuple[str, int], ...]
    locale: str


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    language: str  # de | en
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Step:
    """One thing that happens in a scripted conversation.

    ``customer``: the customer writes ``text``; ``take``: the agent assigns it to
    themselves; ``reply``/``note``: the agent writes ``text``; ``status``: the agent
    sets ``text`` as the status (``snoozed`` sleeps until tomorrow morning).
    """

    kind: str
    text: str = ""
    attachment: tuple[str, str, bytes] | None = None  # filename, content type, content


@dataclass(frozen=True, slots=True)
class Script:
    queue: str
    language: str
    subject: str
    steps: tuple[Step, ...]


STAFF: tuple[StaffMember, ...] = (
    StaffMember("admin@example.com", "Petra Hoffmann", "admin", (), (), "de"),
    StaffMember("supervisor@example.com", "Martin Becker", "supervisor", ("support", "billing", "sales"), (), "de"),
    StaffMember(
        "anna.schmidt@example.com", "Anna Schmidt", "agent", ("support", "billing"),
        (("de", 5), ("en", 3), ("billing", 4)), "de",
    ),
    StaffMember("jonas.weber@example.com", "Jonas Weber", "agent", ("support", "sales"), (("de", 5), ("sales", 4)), "de"),
    StaffMember(
        "emily.clarke@example.com", "Emily Clarke", "agent", ("support", "sales"),
        (("en", 5), ("de", 2), ("sales", 3)), "en",
    ),
    StaffMember(
        "oliver.hughes@example.com", "Oliver Hughes", "agent", ("billing", "support"),
        (("en", 5), ("de", 3), ("billing", 5)), "en",
    ),
)

CUSTOMERS: tuple[Customer, ...] = (
    Customer("Lena Müller", "de", "lena.mueller@example.com", None),
    Customer("Lukas Schneider", "de", "lukas.schneider@example.org", "+49 30 23125011"),
    Customer("Sophie Fischer", "de", "sophie.fischer@example.net", None),
    Customer("Maximilian Wagner", "de", None, "+49 40 66969012"),
    Customer("Hannah Becker", "de", "hannah.becker@example.com", None),
    Customer("Felix Hoffmann", "de", "felix.hoffmann@example.org", "+49 89 99998013"),
    Customer("Marie Schäfer", "de", "marie.schaefer@example.com", None),
    Customer("Paul Koch", "de", "paul.koch@example.net", None),
    Customer("Emma Richter", "de", None, "+49 30 23125014"),
    Customer("Jonas Klein", "de", "jonas.klein@example.com", None),
    Customer("Mia Wolf", "de", "mia.wolf@example.org", "+49 40 66969015"),
    Customer("Leon Schröder", "de", "leon.schroeder@example.com", None),
    Customer("Clara Neumann", "de", "clara.neumann@example.net", None),
    Customer("Elias Schwarz", "de", "elias.schwarz@example.com", "+49 89 99998016"),
    Customer("Ida Zimmermann", "de", "ida.zimmermann@example.org", None),
    Customer("Theo Braun", "de", None, "+49 30 23125017"),
    Customer("Frieda Krüger", "de", "frieda.krueger@example.com", None),
    Customer("Karl Hartmann", "de", "karl.hartmann@example.net", None),
    Customer("Olivia Bennett", "en", "olivia.bennett@example.com", "+44 20 7946 0018"),
    Customer("James Carter", "en", "james.carter@example.org", None),
    Customer("Amelia Turner", "en", "amelia.turner@example.net", None),
    Customer("Harry Walsh", "en", None, "+44 20 7946 0019"),
    Customer("Grace Mitchell", "en", "grace.mitchell@example.com", None),
    Customer("Noah Price", "en", "noah.price@example.org", None),
)

CRASH_LOG = (
    b"2024-05-14 08:12:03 INFO  app started (version 4.2.1)\n"
    b"2024-05-14 08:12:04 ERROR sync failed: timeout after 30s\n"
    b"2024-05-14 08:12:04 FATAL unhandled exception, closing\n"
)

C, TAKE, REPLY, NOTE, STATUS = "customer", "take", "reply", "note", "status"

SCRIPTS: tuple[Script, ...] = (
    Script("support", "de", "Login funktioniert nicht", (
        Step(C, "Hallo, ich kann mich seit gestern nicht mehr in mein Kundenkonto einloggen. "
                "Die E-Mail zum Zurücksetzen des Passworts kommt nicht an. Viele Grüße, {first}"),
        Step(TAKE),
        Step(REPLY, "Hallo {first}, danke für Ihre Nachricht! Ich habe den Link zum Zurücksetzen erneut "
                    "verschickt – bitte schauen Sie auch im Spam-Ordner nach. Viele Grüße, {agent}"),
        Step(STATUS, "pending"),
        Step(C, "Hat geklappt, vielen Dank!"),
        Step(STATUS, "resolved"),
    )),
    Script("support", "de", "App stürzt beim Start ab", (
        Step(C, "Guten Tag, seit dem letzten Update stürzt die App direkt nach dem Start ab. "
                "Das Fehlerprotokoll hänge ich an.",
             ("fehlerprotokoll.txt", "text/plain", CRASH_LOG)),
        Step(TAKE),
        Step(NOTE, "Timeout beim Sync – sieht nach dem bekannten Problem mit Version 4.2.1 aus, Ticket an die Entwicklung."),
    )),
    Script("support", "de", "Farbe des Artikels", (
        Step(C, "Hallo, gibt es die Thermoskanne „Alpin“ auch in Blau?"),
    )),
    Script("support", "de", "Adressänderung", (
        Step(C, "Hallo, ich bin umgezogen. Können Sie meine Lieferadresse ändern? "
                "Neue Adresse: Musterstraße 12, 10115 Berlin."),
        Step(TAKE),
        Step(REPLY, "Hallo {first}, die neue Adresse ist hinterlegt und gilt ab Ihrer nächsten Bestellung. "
                    "Viele Grüße, {agent}"),
        Step(STATUS, "resolved"),
    )),
    Script("support", "en", "Upload fails with error 503", (
        Step(C, "Hi, whenever I upload a document in the portal I get 'Error 503'. Could you have a look?"),
        Step(C, "It happens with PDFs and with photos, on the laptop and on my phone."),
    )),
    Script("support", "en", "Change of delivery address", (
        Step(C, "Hello, I have moved house. Could you update my delivery address for the next order?"),
        Step(TAKE),
        Step(REPLY, "Hi {first}, thanks for letting us know! Please send me the new address and I will update it "
                    "right away. Best wishes, {agent}"),
        Step(STATUS, "pending"),
    )),
    Script("billing", "de", "Versandkosten doppelt berechnet", (
        Step(C, "Guten Tag, auf meiner Rechnung RE-2024-{n} wurde die Versandpauschale zweimal berechnet."),
        Step(TAKE),
        Step(NOTE, "Gutschrift über 4,90 € angelegt, Buchhaltung informiert."),
        Step(REPLY, "Hallo {first}, Sie haben recht – das war unser Fehler. Die 4,90 € schreiben wir Ihnen gut, "
                    "die Korrekturrechnung folgt per E-Mail. Viele Grüße, {agent}"),
        Step(STATUS, "pending"),
    )),
    Script("billing", "de", "Rechnung als PDF", (
        Step(C, "Können Sie mir die Rechnung zu meiner Bestellung {n} noch einmal als PDF schicken?"),
        Step(TAKE),
        Step(REPLY, "Hallo {first}, die Rechnung ist unterwegs und liegt außerdem in Ihrem Kundenkonto unter "
                    "„Rechnungen“. Viele Grüße, {agent}"),
        Step(C, "Danke, ist angekommen!"),
        Step(STATUS, "resolved"),
    )),
    Script("billing", "de", "Zahlungsart ändern", (
        Step(C, "Ich möchte von Lastschrift auf Zahlung per Rechnung umstellen. Geht das?"),
    )),
    Script("billing", "en", "Charged twice", (
        Step(C, "Hi, I was charged twice for order {n}. Can you refund one of the payments?"),
        Step(TAKE),
        Step(REPLY, "Hi {first}, I am sorry about that! I have refunded the second payment; it should show up "
                    "within 3–5 working days. Best wishes, {agent}"),
        Step(STATUS, "pending"),
        Step(C, "Thanks! Will I get a confirmation email for the refund?"),
    )),
    Script("billing", "en", "VAT invoice", (
        Step(C, "Could you send me a VAT invoice with my company name on it for order {n}?"),
    )),
    Script("sales", "de", "Mengenrabatt für 25 Lizenzen", (
        Step(C, "Wir möchten 25 Lizenzen für unser Team bestellen. Gibt es einen Mengenrabatt?"),
        Step(TAKE),
        Step(REPLY, "Hallo {first}, ab 20 Lizenzen gewähren wir 15 % Rabatt. Ich schicke Ihnen gern ein "
                    "Angebot – an welche Firmenadresse? Viele Grüße, {agent}"),
        Step(STATUS, "pending"),
    )),
    Script("sales", "de", "Lieferung nach Österreich", (
        Step(C, "Liefern Sie auch nach Österreich und in die Schweiz?"),
        Step(TAKE),
        Step(REPLY, "Hallo {first}, ja: nach Österreich in 2–3 Werktagen, in die Schweiz in 3–5 Werktagen "
                    "(zzgl. Zoll). Viele Grüße, {agent}"),
        Step(STATUS, "resolved"),
    )),
    Script("sales", "de", "Lieferverzögerung Bestellung {n}", (
        Step(C, "Meine Bestellung {n} sollte gestern ankommen, die Sendungsverfolgung zeigt seit drei Tagen nichts Neues."),
        Step(TAKE),
        Step(NOTE, "Beim Versanddienstleister nachgefragt, Antwort kommt morgen früh."),
        Step(REPLY, "Hallo {first}, ich habe beim Versanddienstleister nachgefragt und melde mich morgen "
                    "früh bei Ihnen. Viele Grüße, {agent}"),
        Step(STATUS, "snoozed"),
    )),
    Script("sales", "en", "Trial of the business plan", (
        Step(C, "Do you offer a free trial of the business plan for a team of ten?"),
        Step(TAKE),
        Step(REPLY, "Hi {first}, yes: 30 days for up to 25 users, no credit card needed. Shall I set it up "
                    "for you? Best wishes, {agent}"),
        Step(STATUS, "pending"),
    )),
    Script("sales", "en", "Express shipping to London", (
        Step(C, "Is express shipping to London possible? I need the order by Friday."),
    )),
)


# Canned responses of the demo company (shortcut, title, German text, English text); docs/api.md.
CANNED: tuple[tuple[str, str, str, str], ...] = (
    (
        "hallo", "Begrüßung / Greeting",
        "Hallo {{ contact.name or 'und guten Tag' }},\n\nvielen Dank für Ihre Nachricht. ",
        "Hello {{ contact.name or 'there' }},\n\nthank you for your message. ",
    ),
    (
        "danke", "Abschluss / Sign-off",
        "Viele Grüße\n{{ agent.name }}\n(Vorgang #{{ conversation.id }})",
        "Kind regards\n{{ agent.name }}\n(case #{{ conversation.id }})",
    ),
    (
        "rechnung", "Rechnungskopie / Invoice copy",
        "Eine Kopie Ihrer Rechnung schicken wir Ihnen an {{ contact.email or 'Ihre E-Mail-Adresse' }}.",
        "We will send a copy of your invoice to {{ contact.email or 'your email address' }}.",
    ),
)
