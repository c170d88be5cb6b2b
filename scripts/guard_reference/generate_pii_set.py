#!/usr/bin/env python3
"""Generate the labelled PII evaluation set for Gantry's guardrails.

Writes crates/gantry-core/tests/fixtures/pii_labelled.jsonl: one JSON object a line,
{"text": ..., "spans": [{"type": "email", "start": 3, "end": 17}, ...]}, with CHARACTER
offsets (end exclusive). Types: email, phone, credit_card, iban, ip_address, us_ssn,
de_tax_id, person.

The texts are support tickets, e-mails, chat messages and form dumps built from templates
and pieces (greeting, body sentences, sign-off), mostly English with some German. Every
checksummed value is generated valid (Luhn, IBAN mod-97, SSA rules for SSNs, the ISO 7064
MOD 11,10 check digit and digit-repetition rule of the German tax id). Hard negatives are
mixed in throughout: order, invoice, tracking and ticket numbers, dates, times, amounts,
version strings, ZIP codes, SKUs, ISBNs, VAT ids, UUIDs, MAC addresses, "Dear Customer".

Label conventions: a phone span includes a leading `+` and parentheses; a person span
covers only the name (not "Mr." or "Frau"); an IBAN, card, SSN or tax id span covers the
value with its inner spaces/dashes.

Deterministic: `python3 scripts/guard_reference/generate_pii_set.py [--seed 5] [--n 1200]`.
"""

import argparse
import json
import random
import re
import string
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/gantry-core/tests/fixtures/pii_labelled.jsonl"

FIRST = [
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda", "David",
    "Elizabeth", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
    "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Sandra", "Steven", "Ashley", "Andrew",
    "Emily", "Joshua", "Michelle", "Kevin", "Amanda", "Brian", "Melissa", "George", "Olivia",
    "Priya", "Rahul", "Ananya", "Wei", "Mei", "Hiroshi", "Yuki", "Carlos", "Sofia", "Mateo",
    "Lucia", "Jürgen", "Anke", "Klaus", "Sabine", "Lukas", "Lena", "Felix", "Hannah", "Björn",
    "Søren", "Ingrid", "Pierre", "Camille", "Luca", "Giulia", "Aisha", "Omar", "Fatima",
    "Kwame", "Amara", "Dmitri", "Olga", "Siobhan", "Niamh", "Connor", "Zoe", "Ethan", "Chloe",
    "Noah", "Ava", "Liam", "Emma", "Marta", "Tomasz", "Agnieszka", "Ravi", "Deepa", "Jonas",
]
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Patel", "Sharma",
    "Gupta", "Ramanathan", "Iyer", "Chen", "Wang", "Zhang", "Liu", "Tanaka", "Suzuki", "Sato",
    "Kowalski", "Nowak", "Dubois", "Lefèvre", "Rossi", "Bianchi", "Okafor", "Mensah", "Ivanova",
    "Petrov", "O'Brien", "Murphy", "Kelly", "Nguyen", "Kim", "Park", "Silva", "Santos", "Haddad",
]
MIDDLE = ["Ann", "Marie", "Lee", "James", "Louise", "Paul", "Jean", "Maria", "Rose", "John"]

DOMAINS = [
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "web.de", "gmx.de", "t-online.de",
    "proton.me", "icloud.com", "example.com", "acme-corp.com", "mail.university.edu",
    "contoso.org", "posteo.de", "company.co.uk", "startup.io", "shop.example.net",
]

# (country, length) for the IBANs generated; the detector carries its own table.
IBAN_COUNTRIES = [
    ("DE", 22), ("DE", 22), ("DE", 22), ("GB", 22), ("FR", 27), ("ES", 24), ("IT", 27),
    ("NL", 18), ("AT", 20), ("CH", 21), ("BE", 16), ("PL", 28), ("IE", 22), ("LU", 20),
]


class Text:
    """Accumulates text and labelled spans (character offsets)."""

    def __init__(self):
        self.parts = []
        self.spans = []
        self.length = 0

    def add(self, s, label=None):
        if label:
            self.spans.append({"type": label, "start": self.length, "end": self.length + len(s)})
        self.parts.append(s)
        self.length += len(s)

    def record(self):
        return {"text": "".join(self.parts), "spans": self.spans}


# ---------------------------------------------------------------- checksummed values

def luhn_complete(prefix_digits, length, rng):
    body = prefix_digits + "".join(rng.choice(string.digits) for _ in range(length - len(prefix_digits) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch)
            if i % 2 == 1:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def credit_card(rng):
    kind = rng.choice(["visa", "visa", "mc", "mc2", "amex", "discover", "diners", "jcb", "visa19"])
    if kind == "visa":
        digits, groups = luhn_complete("4", 16, rng), [4, 4, 4, 4]
    elif kind == "visa19":
        digits, groups = luhn_complete("4", 19, rng), [4, 4, 4, 4, 3]
    elif kind == "mc":
        digits, groups = luhn_complete(rng.choice(["51", "52", "53", "54", "55"]), 16, rng), [4, 4, 4, 4]
    elif kind == "mc2":
        digits, groups = luhn_complete(str(rng.randint(2221, 2720)), 16, rng), [4, 4, 4, 4]
    elif kind == "amex":
        digits, groups = luhn_complete(rng.choice(["34", "37"]), 15, rng), [4, 6, 5]
    elif kind == "discover":
        digits, groups = luhn_complete(rng.choice(["6011", "65"]), 16, rng), [4, 4, 4, 4]
    elif kind == "diners":
        digits, groups = luhn_complete(rng.choice(["36", "38"]), 14, rng), [4, 6, 4]
    else:
        digits, groups = luhn_complete("35", 16, rng), [4, 4, 4, 4]
    sep = rng.choice([" ", " ", "-", ""])
    out, i = [], 0
    for g in groups:
        out.append(digits[i:i + g])
        i += g
    return sep.join(out)


def iban(rng):
    country, length = rng.choice(IBAN_COUNTRIES)
    bban_len = length - 4
    if country in ("GB", "IE"):
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
            rng.choice(string.digits) for _ in range(bban_len - 4))
    elif country == "NL":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
            rng.choice(string.digits) for _ in range(bban_len - 4))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def us_ssn(rng):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    group = rng.randint(1, 99)
    serial = rng.randint(1, 9999)
    sep = rng.choice(["-", "-", "-", " "])
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


def de_tax_id_valid(digits):
    if len(digits) != 11 or digits[0] == "0":
        return False
    counts = {d: digits[:10].count(d) for d in set(digits[:10])}
    repeated = [d for d, c in counts.items() if c > 1]
    if len(repeated) != 1 or counts[repeated[0]] > 3:
        return False
    if counts[repeated[0]] == 3 and repeated[0] * 3 in digits[:10]:
        return False
    product = 10
    for ch in digits[:10]:
        total = (int(ch) + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    if check == 10:
        check = 0
    return int(digits[10]) == check


def de_tax_id(rng):
    while True:
        first10 = rng.choice("123456789") + "".join(rng.choice(string.digits) for _ in range(9))
        for check in string.digits:
            if de_tax_id_valid(first10 + check):
                digits = first10 + check
                style = rng.choice(["plain", "plain", "spaced", "spaced3"])
                if style == "spaced":
                    return f"{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"
                if style == "spaced3":
                    return f"{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"
                return digits


# ---------------------------------------------------------------- other entities

def person(rng, parts=None):
    parts = parts or rng.choice([1, 2, 2, 2, 2, 3])
    if parts == 1:
        return rng.choice(FIRST)
    if parts == 2:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return f"{rng.choice(FIRST)} {rng.choice(MIDDLE)} {rng.choice(LAST)}"


def ascii_fold(s):
    table = str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "ø": "o", "è": "e", "é": "e", "'": ""})
    return s.translate(table)


def email(rng):
    first, last = ascii_fold(rng.choice(FIRST)).lower(), ascii_fold(rng.choice(LAST)).lower()
    local = rng.choice([
        f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
        f"{first}+{rng.choice(['shop', 'news', 'billing'])}", f"{last}.{first}", f"{first}{rng.randint(1970, 2005)}",
        rng.choice(["support", "info", "billing", "hr", "jobs"]),
    ])
    return f"{local}@{rng.choice(DOMAINS)}"


def phone(rng):
    style = rng.choice([
        "us_paren", "us_dash", "us_dot", "us_plus", "us_plus_paren", "us_1800",
        "uk", "uk_mobile", "uk_00", "uk_0", "de", "de_0", "de_mobile", "de_00",
        "fr", "in", "au", "nl", "es",
    ])
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    area = str(rng.randint(2, 9)) + d(2)
    exch = str(rng.randint(2, 9)) + d(2)
    if style == "us_paren":
        return f"({area}) {exch}-{d(4)}"
    if style == "us_dash":
        return f"{area}-{exch}-{d(4)}"
    if style == "us_dot":
        return f"{area}.{exch}.{d(4)}"
    if style == "us_plus":
        return f"+1 {area} {exch} {d(4)}"
    if style == "us_plus_paren":
        return f"+1 ({area}) {exch}-{d(4)}"
    if style == "us_1800":
        return f"1-{rng.choice(['800', '888', '877'])}-{exch}-{d(4)}"
    if style == "uk":
        return f"+44 20 {rng.randint(7, 8)}{d(3)} {d(4)}"
    if style == "uk_mobile":
        return f"+44 7{d(3)} {d(6)}"
    if style == "uk_00":
        return f"0044 20 {rng.randint(7, 8)}{d(3)} {d(4)}"
    if style == "uk_0":
        return f"+44 (0)20 {rng.randint(7, 8)}{d(3)} {d(4)}"
    if style == "de":
        return f"+49 {rng.choice(['30', '40', '89', '69', '221'])} {rng.randint(1, 9)}{d(rng.randint(5, 7))}"
    if style == "de_0":
        return f"+49 (0){rng.choice(['30', '40', '89', '69'])} {rng.randint(1, 9)}{d(6)}"
    if style == "de_mobile":
        return f"+49 {rng.choice(['151', '160', '171', '176'])} {rng.randint(1, 9)}{d(6)}"
    if style == "de_00":
        return f"0049 {rng.choice(['30', '89'])} {rng.randint(1, 9)}{d(6)}"
    if style == "fr":
        return f"+33 {rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}"
    if style == "in":
        return f"+91 {rng.randint(7, 9)}{d(4)} {d(5)}"
    if style == "au":
        return f"+61 {rng.randint(2, 4)} {d(4)} {d(4)}"
    if style == "nl":
        return f"+31 20 {d(3)} {d(4)}"
    return f"+34 9{d(2)} {d(3)} {d(3)}"


def ip_address(rng):
    style = rng.random()
    if style < 0.65:
        first = rng.choice([10, 172, 192, 203, 198, 8, 52, 34, 185, 81, 91, 100])
        return ".".join(str(x) for x in [first, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)])
    h = lambda: format(rng.randint(0, 0xFFFF), "x")  # noqa: E731
    if style < 0.8:
        return f"2001:db8::{h()}:{h()}"
    if style < 0.9:
        return f"fe80::{h()}:{h()}:{h()}:{h()}"
    return ":".join(h() for _ in range(8))


# ---------------------------------------------------------------- hard negatives

NEGATIVE_KINDS = {
    "date": ["date_iso", "date_de", "date_us"],
    "time": ["time", "time_s"],
    "amount": ["amount_usd", "amount_eur"],
    "version": ["version", "version_v", "chrome", "build"],
    "ref": ["order", "order_dash", "invoice", "tracking_ups", "tracking_usps", "ticket", "sku", "isbn", "ref16",
            "case", "order9", "kundennr", "account"],
    "code": ["uuid", "mac", "sha", "vat", "pin"],
    "zip": ["zip_de"],
}


def negative(rng, category=None):
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    kinds = NEGATIVE_KINDS[category] if category else [k for ks in NEGATIVE_KINDS.values() for k in ks]
    kind = rng.choice(kinds)
    return {
        "order": lambda: f"order #{d(rng.randint(6, 10))}",
        "order_dash": lambda: f"order {d(3)}-{d(7)}-{d(7)}",
        "invoice": lambda: f"invoice INV-{rng.randint(2019, 2025)}-{d(5)}",
        "tracking_ups": lambda: "tracking number 1Z" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        "tracking_usps": lambda: f"tracking {d(4)} {d(4)} {d(4)} {d(4)} {d(4)} {d(2)}",
        "ticket": lambda: f"ticket #{d(5)}",
        "date_iso": lambda: f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "date_de": lambda: f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2019, 2026)}",
        "date_us": lambda: f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2019, 2026)}",
        "time": lambda: f"{rng.randint(0, 23):02d}:{rng.choice(['00', '15', '30', '45'])}",
        "time_s": lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        "amount_usd": lambda: f"${rng.randint(1, 99)},{d(3)}.{d(2)}",
        "amount_eur": lambda: f"{rng.randint(1, 99)}.{d(3)},{d(2)} EUR",
        "version": lambda: f"version {rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}",
        "version_v": lambda: f"v{rng.randint(1, 5)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        "chrome": lambda: f"Chrome {rng.randint(100, 130)}.0.{rng.randint(5000, 6999)}.{rng.randint(10, 200)}",
                "zip_de": lambda: f"{d(5)} Berlin",
        "sku": lambda: f"SKU {d(3)}-{d(4)}-{d(2)}",
        "isbn": lambda: f"ISBN 978-{rng.randint(0, 9)}-{d(2)}-{d(6)}-{rng.randint(0, 9)}",
        "vat": lambda: f"VAT ID DE{d(9)}",
        "uuid": lambda: "-".join("".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in (8, 4, 4, 4, 12)),
        "mac": lambda: ":".join("".join(rng.choice("0123456789ABCDEF") for _ in range(2)) for _ in range(6)),
        "ref16": lambda: f"reference {d(4)} {d(4)} {d(4)} {d(4)}",
        "kundennr": lambda: f"Kundennummer {d(11)}",
        "case": lambda: f"case {d(8)}",
        "order9": lambda: f"order {d(9)}",
        "sha": lambda: "commit " + "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([7, 40]))),
        "pin": lambda: f"PIN {d(4)}",
        "build": lambda: f"build {rng.randint(1, 9)}.{rng.randint(0, 30)}.{d(4)}.{d(3)}",
        "account": lambda: f"account {d(3)}-{d(2)}-{d(3)}",
    }[kind]()


# ---------------------------------------------------------------- sentence pieces

# Templates: {email} {phone} {card} {iban} {ip} {ssn} {taxid} {person} {first} {last} {neg} (any hard negative), {date} {time} {amount} {version} {ref} {code} {zip} (one kind)
BODY_EN = [
    "You can reach me at {email} or on {phone}.",
    "Please update the phone number on my account to {phone}.",
    "My new email address is {email}, the old one no longer works.",
    "I was charged twice on my card {card} for {ref}.",
    "The payment for {ref} failed with card {card}, can you check?",
    "Please refund the amount to IBAN {iban}.",
    "Our login attempts come from {ip} and get blocked since {date}.",
    "Delivery to {zip} took until {date}.",
    "The server at {ip} stopped responding after the upgrade to {version}.",
    "For the background check I need to confirm my SSN {ssn}.",
    "My social security number is {ssn}, please update the W-2.",
    "Call me back at {phone} regarding {ref}.",
    "I placed {ref} on {date} and it still hasn't arrived.",
    "Your {ref} has been shipped, {ref}.",
    "We deployed {version} to production at {time}.",
    "The total for {ref} was {amount}, paid on {date}.",
    "Please send the invoice to {email} and cc {email}.",
    "Firewall logs show repeated hits from {ip} and {ip}.",
    "Card {card} was declined at {time} on {date}.",
    "Wire the deposit to {iban} before {date}.",
    "The customer's IPv6 address is {ip}.",
    "Text me on {phone} when the technician is on the way.",
    "I upgraded to {version} and now the app crashes on start.",
    "Reference: {ref}, {code}.",
    "Your appointment is on {date} at {time}.",
    "My number changed from {phone} to {phone}.",
    "I'd like to dispute a charge on {card}.",
    "Applicant SSN: {ssn}",
    "SSN {ssn9} (no dashes, sorry)",
    "Forward the logs to {email}; the request came from {ip}.",
    "The device {code} reported an error at {time} on {date}.",
    "Please do not share your {code} with anyone.",
    "Thanks for the quick fix on {ref}!",
    "Can you change the direct debit to {iban}?",
    "The contract was signed on {date} and the first payment is {amount}.",
    "I spoke with {person} on the phone yesterday about {ref}.",
    "Please forward this to {person} in accounting.",
    "{person} from our IT team says the VPN gateway is {ip}.",
    "Ask for {person} at the front desk.",
    "We are still waiting on {ref}, see {ref}.",
    "Our office moved; the new address is Hauptstr. 5, {zip}.",
    "Order confirmation: {ref}, estimated delivery {date}.",
]
BODY_DE = [
    "Meine Steuer-ID lautet {taxid}.",
    "Steuerliche Identifikationsnummer: {taxid}",
    "Bitte überweisen Sie den Betrag auf mein Konto, IBAN {iban}.",
    "Meine neue Bankverbindung: IBAN {iban}, bitte ab {date} verwenden.",
    "Sie erreichen mich unter {phone} oder per Mail an {email}.",
    "Die Rechnung ({ref}) über {amount} habe ich am {date} bezahlt.",
    "Für die Lohnabrechnung brauche ich noch Ihre Steuer-IdNr. {taxid}.",
    "Die Identifikationsnummer {taxid} steht auf dem Brief vom Finanzamt.",
    "Ich habe am {date} bestellt ({ref}), aber nichts erhalten.",
    "Ihre Bestellung ({ref}) wurde am {date} um {time} versendet.",
    "Bitte buchen Sie die Miete von {iban} ab.",
    "Steuer-ID {taxid}, IBAN {iban}",
]
GREET_EN = [
    ("Hi {first},\n", True), ("Hello {person},\n", True), ("Dear {person},\n", True), ("Dear Mr. {last},\n", True),
    ("Dear Ms. {last},\n", True), ("Dear Dr. {person},\n", True), ("Hi {first}!\n", True), ("Dear Mrs. {last},\n", True),
    ("Dear Customer,\n", False), ("Hi there,\n", False), ("Hello team,\n", False), ("Dear Sir or Madam,\n", False),
    ("Hi all,\n", False), ("Good morning,\n", False), ("Hey,\n", False), ("Dear Support Team,\n", False),
    ("Hello Support,\n", False), ("Dear Valued Customer,\n", False),
]
GREET_DE = [
    ("Sehr geehrte Frau {last},\n", True), ("Sehr geehrter Herr {last},\n", True), ("Hallo {first},\n", True),
    ("Sehr geehrte Damen und Herren,\n", False), ("Hallo zusammen,\n", False), ("Liebes Support-Team,\n", False),
]
INTRO_EN = [
    ("My name is {person} and I have a question.", True), ("I am {person}, the account owner.", True),
    ("I'm {person} from the finance department.", True), ("this is {person} from Acme.", True),
    ("I am sorry to bother you again.", False), ("I'm happy with the service overall, but:", False),
    ("I am Writing about my last order.", False), ("I'm Not sure whom to contact.", False),
    ("I am a long-time customer.", False), ("I'm still waiting for an answer.", False),
]
INTRO_DE = [("Mein Name ist {person}.", True), ("Ich heiße {person} und bin Kundin seit {date}.", True),
            ("Ich bin seit Jahren Kunde bei Ihnen.", False)]
SIGN_EN = [
    ("\n\nBest regards,\n{person}", True), ("\n\nRegards,\n{person}", True), ("\n\nBest,\n{first}", True),
    ("\n\nThanks,\n{person}", True), ("\n\nSincerely, {person}", True), ("\n\nCheers,\n{first}", True),
    ("\n\nKind regards,\n{person}\n{phone}", True), ("\n-- \n{person}\n{email}", True),
    ("\n\nBest regards,\nCustomer Support", False), ("\n\nThanks,\nThe Billing Team", False),
    ("\n\nRegards,\nAcme Support", False), ("\n\nThank you!", False), ("\n\nSent from my iPhone", False),
    ("\n\nBest,\nThe Team", False),
]
SIGN_DE = [("\n\nMit freundlichen Grüßen\n{person}", True), ("\n\nViele Grüße\n{first}", True),
           ("\n\nMit freundlichen Grüßen\nIhr Kundenservice", False)]
CHAT = [
    "hey, my email is {email}",
    "my number is {phone} btw",
    "name: {person}\nemail: {email}\nphone: {phone}",
    "Name: {person}, IP: {ip}, time: {time}",
    "Customer: {person} | Card: {card} | Amount: {amount}",
    "Cardholder: {person}\nCard number: {card}\nExpiry: {rng_expiry}",
    "Account holder: {person}, IBAN: {iban}",
    "Full name: {person}\nSSN: {ssn}\nDOB: {date}",
    "Contact person: {person}, {phone}",
    "Passenger: {person}, booking {ref}",
    "i'm {first}, can someone help with {ref}?",
    "ok so i reset the router and it's now on {ip}",
    "pls send the receipt to {email} thx",
    "new phone: {phone}",
    "app crashes on {version} since {date}",
    "hi there, is {code} in stock?",
    "Hi, I am Sorry but the link does not work.",
    "Dear Customer, your {ref} is ready.",
    "Meeting moved to {date} at {time}.",
    "ping {ip} works but {ip} times out",
    "Server: {ip} | Port: 443 | Deployed: {version}",
    "user {email} logged in from {ip} at {time}",
    "Mr. {person} requested a callback on {phone}.",
    "Ms. {last} will pay by card {card}.",
    "Dr. {person} is the contact for the clinic, email {email}.",
    "Please ask Mrs. {last} to sign the form.",
    "Formular: Name: {person}, Steuer-ID: {taxid}, IBAN: {iban}",
    "{ref} / {code} / {date}",
    "Totals: {amount}, {amount}; see {ref}",
]


class Filler:
    def __init__(self, rng):
        self.rng = rng

    def fill(self, out, template):
        for piece in re.split(r"(\{[a-z0-9_]+\})", template):
            if not piece:
                continue
            if not (piece.startswith("{") and piece.endswith("}")):
                out.add(piece)
                continue
            key = piece[1:-1]
            rng = self.rng
            if key == "email":
                out.add(email(rng), "email")
            elif key == "phone":
                out.add(phone(rng), "phone")
            elif key == "card":
                out.add(credit_card(rng), "credit_card")
            elif key == "iban":
                out.add(iban(rng), "iban")
            elif key == "ip":
                out.add(ip_address(rng), "ip_address")
            elif key == "ssn":
                out.add(us_ssn(rng), "us_ssn")
            elif key == "ssn9":
                out.add(us_ssn(rng).replace("-", "").replace(" ", ""), "us_ssn")
            elif key == "taxid":
                out.add(de_tax_id(rng), "de_tax_id")
            elif key == "person":
                out.add(person(rng), "person")
            elif key == "first":
                out.add(rng.choice(FIRST), "person")
            elif key == "last":
                out.add(rng.choice(LAST), "person")
            elif key == "neg":
                out.add(negative(rng))
            elif key in NEGATIVE_KINDS:
                out.add(negative(rng, key))
            elif key == "rng_expiry":
                out.add(f"{rng.randint(1, 12):02d}/{rng.randint(25, 31)}")
            else:
                raise KeyError(key)


def message(rng, filler):
    out = Text()
    shape = rng.random()
    if shape < 0.3:
        filler.fill(out, rng.choice(CHAT))
        return out.record()
    german = rng.random() < 0.2
    greet, intro, body, sign = (GREET_DE, INTRO_DE, BODY_DE, SIGN_DE) if german else (GREET_EN, INTRO_EN, BODY_EN, SIGN_EN)
    if rng.random() < 0.75:
        filler.fill(out, rng.choice(greet)[0])
    if rng.random() < 0.4:
        text = rng.choice(intro)[0]
        filler.fill(out, text[0].upper() + text[1:] + " ")
    for i in range(rng.choice([1, 1, 2, 2, 3])):
        if i:
            out.add(" ")
        filler.fill(out, rng.choice(body))
    if rng.random() < 0.7:
        filler.fill(out, rng.choice(sign)[0])
    return out.record()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--n", type=int, default=1200)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    filler = Filler(rng)
    records = [message(rng, filler) for _ in range(args.n)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = {}
    for r in records:
        for s in r["spans"]:
            counts[s["type"]] = counts.get(s["type"], 0) + 1
    print(f"wrote {len(records)} records to {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    for k in sorted(counts):
        print(f"  {k:12} {counts[k]}")


if __name__ == "__main__":
    main()
