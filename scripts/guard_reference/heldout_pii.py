#!/usr/bin/env python3
"""Write the held-out PII set: crates/gantry-core/tests/fixtures/pii_heldout.jsonl.

The main labelled set (generate_pii_set.py) comes from templates the detectors were written
against, so a perfect score there says little about text phrased differently. These records
were written by hand afterwards, in phrasings, formats and contexts the templates do not
use (national phone formats, names in headers and mid-sentence, lower-case cues, chat
shorthand, log lines, CSV and JSON), and were not changed after the detectors were scored
on them. Batch 1 was scored first (person F1 0.480 against Presidio's 0.682) and led to
more person cues and the netmask/network rule for IPs, so it is no longer unseen. Batch 2,
scored once after that (person F1 0.571 against Presidio's 0.744), led to the given-name
lexicon, so it is not unseen either. Batch 3 was written after the lexicon and scored once
(Gantry at or above Presidio on every type; person 0.667 against 0.540); it showed one bug,
a card number's span taking the space before a following `(`, fixed afterwards. Same JSONL format and label conventions as the main set (character offsets; a
phone span includes `+` and parentheses; a person span is the name without its title).

Markup: `[[type:value]]` marks a labelled span. Checksummed values (cards, IBANs, tax ids)
were drawn with the main generator's functions (seed 2026) so they are valid.

`python3 scripts/guard_reference/heldout_pii.py`
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/gantry-core/tests/fixtures/pii_heldout.jsonl"

RECORDS = [
    # --- e-mail
    "From: [[person:Peter Jansen]] <[[email:p.jansen@jansen-bau.nl]]>\nSubject: invoice 2024-117",
    "reply-to: [[email:noreply+ticket-4471@helpdesk.acme.io]]",
    "Contact us at [[email:SALES@Example.COM]] (mention code SPRING24).",
    "mailto:[[email:first.last@sub.domain.example.org]]?subject=hi",
    "The user id is user@ldap which is not an e-mail.",
    '{"name": "[[person:Ana Lima]]", "email": "[[email:ana.lima@empresa.com.br]]", "plan": "pro"}',
    "id,email,created\n17,[[email:k.nakamura@example.jp]],2023-04-01\n18,[[email:o.ola@example.no]],2023-04-02",
    "Twitter handle @maria_g, not an address; the address is [[email:maria.g@posteo.net]].",
    "Image at assets/logo@3x.png, font at fonts/inter@2.woff2",
    # --- phones
    "Call our hotline on [[phone:+1-415-555-0132]] between 9 and 5.",
    "Tel. [[phone:+49-30-9876543]] / Fax [[phone:+49-30-9876544]]",
    "whatsapp me [[phone:+447911123456]]",
    "Office: [[phone:(212) 555-0175]] ext. 22",
    "Mobil: [[phone:+49 176 23456789]], Festnetz: [[phone:+49 6221 543210]]",
    "reach the Paris office at [[phone:+33 (0)1 44 55 66 77]]",
    "call 911 or 112 in an emergency",
    "Flight LH 1234 departs 07:45 from gate B22.",
    "Our Sydney line is [[phone:+61 2 9374 4000]] and Tokyo [[phone:+81 3-1234-5678]].",
    "the number [[phone:1 (800) 555-0199]] is toll free",
    "Serial no. 555-0134-2291 is printed on the box.",
    "Room 402, building 7, floor 3, seat 12-14",
    "Population grew from 1,234,567 to 1,345,678 between 2010 and 2020.",
    # --- cards
    "Visa ending in 7970 was charged; full number on file: [[credit_card:4588 1399 8698 7970]].",
    "cc=[[credit_card:4911417075364550]]&exp=09/27&cvv=123",
    "Amex [[credit_card:3766-344002-97877]] expired last month",
    "Please charge [[credit_card:2354778768045717]] for the renewal.",
    "Gift card code 6035 3200 1234 5678 cannot be refunded.",
    "Timestamp 1700000000123 in milliseconds, event id 4000001234567898",
    # --- IBAN
    "Überweisung an [[iban:DE57 8379 2984 1622 9486 62]], Verwendungszweck Rechnung 8812.",
    "Payee account: [[iban:GB68MADM10550087547517]] (Sort code 10-55-00)",
    "IBAN:[[iban:CH6381933190845205997]]",
    "Old account [[iban:IE86 IDGH 0175 6820 5258 98]] is closed; use [[iban:DE13642524776472587718]] now.",
    "BIC COBADEFFXXX, Konto 0532013000, BLZ 37040044",
    "Reference DE00 1234 5678 9012 3456 78 is a test string, not a valid IBAN.",
    # --- IP
    "Connection refused: connect to [[ip_address:172.16.254.1]] port 5432 failed",
    "X-Forwarded-For: [[ip_address:203.0.113.195]], [[ip_address:70.41.3.18]]",
    "allow from [[ip_address:2001:db8:85a3::8a2e:370:7334]]",
    "subnet 10.0.0.0/8 and netmask 255.255.255.0 are configuration, the host was [[ip_address:10.2.3.4]]",
    "Update to 4.2.1.7 fixed the crash; Python 3.11.4 is required.",
    '[2024-05-01T12:00:03Z] GET /api/v1/items 200 ip=[[ip_address:198.51.100.23]] ua="curl/8.4.0"',
    "Coordinates 48.137154, 11.576124 mark the office.",
    # --- SSN
    "Employee SSN [[us_ssn:740-24-1742]] needs correcting on the I-9.",
    "SSN: [[us_ssn:284 76 1048]]",
    "ssn=[[us_ssn:323214274]]",
    "The form number 123-45-678 and part 12-345-6789 are not SSNs.",
    "my social is [[us_ssn:065-02-6745]], dob 04/12/1988",
    "Routing number 021000021 and account 123456789 for the ACH transfer.",
    # --- German tax id
    "Steueridentifikationsnummer [[de_tax_id:51465908531]] (siehe Lohnsteuerbescheinigung)",
    "Tax ID (Germany): [[de_tax_id:39 128 084 582]]",
    "IdNr [[de_tax_id:894 326 270 50]], Steuernummer 21/815/08150",
    "Bitte die Versicherungsnummer 65 170839 J 003 angeben.",
    "Vertragsnummer 10198152470, bitte bei Rückfragen angeben.",
    # --- person names
    "Thanks to [[person:Maria Garcia]] for the quick turnaround!",
    "cc'd [[person:Tom Baker]] who owns the billing system",
    "ok, [[person:Jan]] said he'd look at it tomorrow",
    "Signed,\n[[person:Helen Park]]\nHead of Operations",
    "Best wishes\n[[person:Ravi Shankar]]",
    "-- \n[[person:Ola Nordmann]] | Product | +47 not listed",
    "Hello [[person:Mr. Olsen]], your parcel is ready.".replace("[[person:Mr. Olsen]]", "Mr. [[person:Olsen]]"),
    "Patient name: [[person:Eleanor Vance]]; Doctor: Dr. [[person:Samuel Okoye]]",
    "Assigned to [[person:Chris Evans]] on Monday.",
    "We met [[person:Sophie Martin]] and [[person:Lucas Bernard]] at the Paris office.",
    "My wife [[person:Julia]] opened the account in Berlin.",
    "Apple and Amazon both sell Kindle and iPad cases; Jordan is a country and a brand.",
    "Windows 11 and macOS Sonoma both crash when opening the Settings page.",
    "Meeting with Marketing on Monday; agenda by Friday.",
    "Dear Hiring Manager,\nplease find my CV attached.",
    "Hi team, hi everyone, hello world",
    "The Johnson & Johnson account and the Ford Motor Company account are both enterprise.",
    "regards,\nthe platform team",
    "I'm [[person:Carmen Ruiz]] and this is my second ticket.",
    "my name's [[person:Dave]] btw",
    "Kindly contact [[person:Ngozi Adeyemi]] ([[email:ngozi.adeyemi@example.ng]]) for access.",
    "Order for [[person:Liu Yang]], ship to 88 Nanjing Road, Shanghai.",
]

# Batch 2: written after the cue additions that batch 1 prompted, scored once, and reported
# as it came out; the detectors were not changed for it (seed 777 for checksummed values).
RECORDS += [
    "Hey [[person:Sam]] and [[person:Alex]], quick one: can you check [[email:ops-alerts@fintech.example]]?",
    "Please loop in Professor [[person:Alan Whitfield]] before Friday.",
    "Ms [[person:Johnson]] asked for a refund to card [[credit_card:4115 1095 4941 3485]].",
    "Mrs [[person:Chen]] called from [[phone:415 555 0132]] about the delay.",
    "Thanks!\n[[person:Tim]]",
    "Cheers mate, [[person:Rob]] here. My mobile is [[phone:+44 7700 900123]].",
    "Ask [[person:Jennifer]] in HR for the form.",
    "Reviewer: [[person:Grace Hopper]], approver: [[person:Ken Thompson]]",
    "Beneficiary: [[person:Marek Nowicki]]\nIBAN: [[iban:PL46 1761 7666 7598 5898 0905 4986]]",
    "RIB / IBAN : [[iban:FR74 7604 7587 2251 4446 2897 921]]",
    "payout acct [[iban:ES1722675406741504802911]] pls",
    "SEPA mandate for [[iban:DE81974347085373963046]] signed 03.02.2024",
    "Card on file: [[credit_card:5174-3961-6271-8689]], billing zip 94107.",
    "diners club [[credit_card:36592981884715]]",
    "amex: [[credit_card:3412 189007 94401]] / mc: [[credit_card:2449-7594-5807-9866]]",
    "Loyalty number 9876 5432 1098 7654 is not a payment card.",
    "SSN#: [[us_ssn:258-61-6345]]",
    "The applicant's social security no. is [[us_ssn:439-28-2318]].",
    "W-9 attached, TIN [[us_ssn:013-32-8699]]",
    "Case 258-61-634 and docket 14-cv-02031 are court references.",
    "Persönliche IdNr.: [[de_tax_id:710 299 894 30]]",
    "TIN (DE) [[de_tax_id:48759516359]] for the withholding form",
    "Steuer-Identifikationsnummer: [[de_tax_id:15082694134]]",
    "Rechnungsnummer 15082694135 vom 12.03.2024",
    "Errors spiked from [[ip_address:192.0.2.44]] after the 18:05 deploy.",
    "client_ip=[[ip_address:2a02:8108:1140:d2c0:1d4e:9f2b:6a1c:3e77]] status=403",
    "DNS: 8.8.8.8 and 1.1.1.1 are public resolvers.",
    "Python 3.12.1.0 and Node 20.11.1 are installed.",
    "ssh admin@[[ip_address:10.20.30.40]] -p 2222",
    "Call me on [[phone:+1 212-555-0148]] or text [[phone:+49 (0)171 2345678]].",
    "Support line: [[phone:+353 1 234 5678]] (Ireland)",
    "Office phone [[phone:(646) 555-0192]]; fax [[phone:(646) 555-0193]].",
    "ticket 4471-2290-1183 was merged into 4471-2290-1190",
    "The meeting ID is 845 2231 9920 and the passcode is 4471.",
    "Dear [[person:Fatima]],\nyour appointment with Dr. [[person:Schulz]] is on 14.05.2024 at 09:30.",
    "[[person:Yusuf Demir]] wrote: the export fails for [[email:y.demir@example.com.tr]]",
    "Assigned: @[[person:Priya]] (cc [[person:Sven Eriksson]])",
    "On Mon, 3 Jun 2024, [[person:Laura Bianchi]] <[[email:laura.bianchi@example.it]]> wrote:",
    "The Hilton Garden Inn near Heathrow was fully booked.",
    "Visit our store on Baker Street or the outlet in Camden Town.",
    "Microsoft Teams and Google Meet both work for the call.",
    "Regards,\nThe Customer Success Team at Contoso",
    "Hello World is the first program most people write.",
    "Best,\n[[person:Nadia Rahman]]\nSenior Engineer, Platform\n[[phone:+1 (617) 555-0111]]",
    "Sincerely yours,\n[[person:Eduardo Mendes]]",
    "Please forward the contract to [[email:legal@contoso-legal.co.uk]] and to [[person:Oliver Stone]].",
]

# Batch 3: written after the given-name lexicon that batch 2 prompted, scored once and
# reported as it came out; no detector change follows it (seed 31337 for checksummed values).
RECORDS += [
    "Quick update from [[person:Zhang Wei]]: the Shenzhen warehouse ships on Tuesday.",
    "[[person:Haruto Sato]] (Osaka branch) approved the budget for Q3.",
    "Please ask [[person:Chinedu Okafor]] whether Lagos has the new SIM cards.",
    "Our Seattle team, led by [[person:Rhys Morgan]], owns the Kubernetes migration.",
    "The Amazon Web Services outage in Virginia delayed the Black Friday campaign.",
    "Apple Pay and Google Pay are accepted; Samsung Pay is not.",
    "Victoria Station is closest to the hotel; Grace Church is across the road.",
    "Release Notes\nNew Features\n- Dark Mode\n- Export to Excel\nBug Fixes\n- Login on Safari",
    "Hi [[person:Keanu]], thanks for flagging this.",
    "The Golden Gate Bridge and the Empire State Building are on the tour.",
    "[[person:Ji-woo Park]] and [[person:Mateus Oliveira]] joined the call late.",
    "I forwarded it to my manager, [[person:Sandra Kowalczyk]].",
    "Visa, Mastercard and American Express are supported in Canada and Mexico.",
    "Spoke to someone called [[person:Max]] at the front desk, no surname given.",
    "Marketing Director: [[person:Elif Yılmaz]] | Sales Lead: [[person:Jonas Berg]]",
    "Payment via card [[credit_card:4627 5618 8167 3707]] failed at the Frankfurt terminal.",
    "Corporate card [[credit_card:5127-2725-5358-2257]]; personal card [[credit_card:2250 0084 3290 3546]].",
    "PAN [[credit_card:4249032518695520140]] (19 digits, Visa Electron)",
    "Kontoinhaber: [[person:Maximilian Huber]], IBAN [[iban:AT17 9605 1811 4436 9049]]",
    "Neue Bankverbindung ab März: [[iban:DE31 4653 4191 3723 1843 16]]",
    "rachunek: [[iban:PL87 9186 0999 6987 6199 9115 1371]]",
    "The old IBAN AT79 7412 6458 9512 0461 bounced (typo in the last digit).",
    "SSN [[us_ssn:437-52-4621]] / EIN 12-3456789",
    "Member ID 397-19-60677 is a health plan number.",
    "last four of SSN 6643, full SSN [[us_ssn:307 13 6643]]",
    "IdNr. [[de_tax_id:912 685 703 08]] (Bundeszentralamt für Steuern)",
    "Steuer-ID von [[person:Lea Braun]]: [[de_tax_id:93785362407]]",
    "Telefon: [[phone:+43 1 5321234]], Mobil: [[phone:+43 664 1234567]]",
    "Ring [[phone:+1 (312) 555-0176]] for the Chicago office.",
    "Dial [[phone:0049 89 1234567]] from abroad.",
    "Version 2.10.4 ships on 2024-11-05; build 20241105.3 is the RC.",
    "Invoice INV-2024-0042 totals 1.299,00 EUR, due 30.11.2024.",
    "ping [[ip_address:100.64.12.7]] and [[ip_address:2001:db8:0:1::17]] from the bastion",
    "Allowed CIDR 192.168.0.0/16, gateway [[ip_address:192.168.0.1]]",
    "Email [[email:ops@northwind-traders.example]] or [[email:j.doe+alerts@mail.example.org]]",
    "Send the NDA to [[person:Amara Nwosu]] at [[email:amara.nwosu@lawfirm.example]].",
    "Regards,\n[[person:Björn Lindqvist]]\nCTO, Nordlys AB",
    "Cheers,\n[[person:Siobhán]]",
    "From the desk of [[person:Dr. Anil Kapoor]]".replace("[[person:Dr. Anil Kapoor]]", "Dr. [[person:Anil Kapoor]]"),
    "Christmas Eve and New Year's Day are holidays; Easter Monday too.",
    "The Washington Post and The Guardian both covered the outage.",
    "Georgia Tech and Penn State sent applications.",
    "[[person:Fatou Diallo]] wrote the onboarding guide; [[person:Mehmet]] reviewed it.",
    "Contact Information\nPhone: [[phone:+44 20 7123 4567]]\nEmail: [[email:info@example.co.uk]]",
    "The Hudson Bay Company and Hamilton Beach are both retail customers.",
]

MARK = re.compile(r"\[\[([a-z_]+):(.*?)\]\]", re.S)


def parse(marked):
    text, spans, last = [], [], 0
    length = 0
    for m in MARK.finditer(marked):
        before = marked[last:m.start()]
        text.append(before)
        length += len(before)
        value = m.group(2)
        spans.append({"type": m.group(1), "start": length, "end": length + len(value)})
        text.append(value)
        length += len(value)
        last = m.end()
    text.append(marked[last:])
    return {"text": "".join(text), "spans": spans}


def main():
    records = [parse(r) for r in RECORDS]
    with OUT.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = {}
    for r in records:
        for s in r["spans"]:
            counts[s["type"]] = counts.get(s["type"], 0) + 1
    print(f"wrote {len(records)} records to {OUT.relative_to(ROOT)}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
