#!/usr/bin/env python3
"""Generate the bundled demo feed (demo/sample-feed.csv): synthetic NHS trusts in the oversight
ratings feed format (see services/ingestion/src/feed/ratings.rs). Deterministic: the same file every
run. Each trust is placed in one of the seven NHS England regions in turn.

Usage: python3 scripts/gen_sample_feed.py > demo/sample-feed.csv
"""
import random
import sys

rng = random.Random(20180305)
KQS = ["safe", "effective", "caring", "responsive", "well-led"]
ACUTE_SERVICES = ["urgent", "care", "surgery", "critical", "maternity", "childrens", "life", "outpatients"]
MH_SERVICES = ["acutewards", "longstay", "forensic", "childmh", "crisis", "communitymh"]
COMMUNITY_SERVICES = ["communityadults", "communitychildren", "communityinpatients", "communityeol"]
AMBULANCE_SERVICES = ["emergencyoperations", "patienttransport", "resilience"]
PLACES = ["Northfield", "Southmere", "Eastbrook", "Westleigh", "Ashford Vale", "Brackenridge", "Coldharbour",
          "Dunmore", "Elmsworth", "Fairhaven", "Greystone", "Hollins", "Ironbridge", "Juniper Bay", "Kingsmoor",
          "Larkhill", "Millbrook", "Netherby", "Oakhurst", "Pennington", "Queensbury", "Rookwood", "Stonebridge",
          "Thornbury"]
# Each trust has a tendency: a weight on each rating.
PROFILES = {
    "strong": [("Outstanding", 4), ("Good", 10), ("Requires improvement", 1), ("Inadequate", 0)],
    "steady": [("Outstanding", 1), ("Good", 10), ("Requires improvement", 3), ("Inadequate", 0)],
    "strained": [("Outstanding", 0), ("Good", 6), ("Requires improvement", 6), ("Inadequate", 1)],
    "failing": [("Outstanding", 0), ("Good", 3), ("Requires improvement", 6), ("Inadequate", 4)],
}
# NHS England's seven regions.
REGIONS = ["London", "South East", "South West", "Midlands", "East of England", "North West",
           "North East and Yorkshire"]
UOR = {"strong": "Good", "steady": "Good", "strained": "Requires improvement", "failing": "Inadequate"}


def pick(profile):
    items = PROFILES[profile]
    total = sum(w for _, w in items)
    x = rng.uniform(0, total)
    for rating, w in items:
        x -= w
        if x <= 0:
            return rating
    return items[-1][0]


def code(i):
    letters = "ABCDEFGHJKLMNPQRTVWXY"
    return "R" + letters[i % len(letters)] + "ABCDEFGHJKLMN"[i // len(letters) % 13]


def main():
    out = sys.stdout
    out.write("record_type,trust_code,trust_name,trust_type,region,location_id,location_name,service,key_question,rating,report_date\n")
    kinds = (["acute"] * 14) + (["specialist_acute"] * 2) + (["mental_health"] * 4) + (["community"] * 2) + (["ambulance"] * 2)
    profiles = list(PROFILES)
    for i, kind in enumerate(kinds):
        tc = code(i)
        place = PLACES[i % len(PLACES)]
        suffix = {
            "acute": "Hospitals NHS Trust",
            "specialist_acute": "Specialist Hospital NHS Foundation Trust",
            "mental_health": "Mental Health NHS Foundation Trust",
            "community": "Community Health NHS Trust",
            "ambulance": "Ambulance Service NHS Trust",
        }[kind]
        name = f"{place} {suffix}"
        region = REGIONS[i % len(REGIONS)]
        profile = profiles[i % len(profiles)] if i % 5 else "steady"
        year = rng.choice([2017, 2018, 2018, 2019])
        month = rng.randint(1, 12)
        date = f"{year}-{month:02d}-{rng.randint(1, 28):02d}"
        if kind in ("acute", "specialist_acute"):
            n_locations = 1 if i % 4 == 0 else rng.randint(2, 3)
            for loc in range(1, n_locations + 1):
                site = f"{tc}{loc:02d}"
                site_name = f"{place} {['General', 'Royal', 'Memorial'][loc - 1]} Hospital"
                services = ACUTE_SERVICES[: rng.randint(5, 8)] if kind == "acute" else ["surgery", "care", "critical", "outpatients"]
                for svc in services:
                    for kq in KQS:
                        out.write(f"service_rating,{tc},{name},{kind},{region},{site},{site_name},{svc},{kq},{pick(profile)},{date}\n")
        else:
            services = {"mental_health": MH_SERVICES, "community": COMMUNITY_SERVICES, "ambulance": AMBULANCE_SERVICES}[kind]
            for svc in services:
                for kq in KQS:
                    out.write(f"service_rating,{tc},{name},{kind},{region},,,{svc},{kq},{pick(profile)},{date}\n")
        out.write(f"well_led,{tc},{name},{kind},{region},,,,,{pick(profile)},{date}\n")
        if kind == "acute" and i % 7 != 3:
            uor_date = f"{year}-{min(month + 1, 12):02d}-15"
            out.write(f"use_of_resources,{tc},{name},{kind},{region},,,,,{UOR[profile]},{uor_date}\n")


if __name__ == "__main__":
    main()
