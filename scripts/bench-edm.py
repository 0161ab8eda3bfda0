#!/usr/bin/env python3
"""Data for the EDM benchmarks (docs/BENCHMARKS.md, "Exact Data Match").

  bench-edm.py table ROWS OUT.csv      a customer table, 6 columns (id, name, email, phone, ssn, address)
  bench-edm.py text MIB OUT.txt [ROWS] [real]
                                       candidate-dense text: customer-like lines whose every token
                                       is a candidate, with values not in the table and a row of it
                                       every ~64 KiB; with `real`, one random id in seven is a real
                                       primary (a row's id without its other fields)
"""
import random
import sys

FIRST = ["Jane", "John", "Amelia", "Omar", "Chen", "Priya", "Lucas", "Fatima", "Ivan", "Sofia", "Kwame", "Elodie",
         "Maria", "Ahmed", "Yuki", "Lars", "Ana", "Tomas", "Grace", "Noah"]
LAST = ["Doe", "Smith", "Okafor", "Garcia", "Nguyen", "Kowalski", "Haddad", "Muller", "Rossi", "Tanaka",
        "Brown", "Silva", "Kim", "Novak", "Ivanova", "Jensen", "Moreau", "Costa", "Patel", "Walsh"]
STREETS = ["Main Street", "Oak Avenue", "Harbour Road", "Mill Lane", "King Street", "Elm Court", "High Street"]


def row(i):
    r = random.Random(i * 7919 + 17)
    first, last = r.choice(FIRST), r.choice(LAST)
    return [
        "CU%08d" % (i * 7 + 11),
        "%s %s%d" % (first, last, i % 997),
        "%s.%s%d@corp.example" % (first.lower(), last.lower(), i),
        "(%03d) %03d-%04d" % (201 + r.randrange(700), r.randrange(1000), r.randrange(10000)),
        "%03d-%02d-%04d" % (100 + r.randrange(600), 10 + r.randrange(89), r.randrange(10000)),
        "%d %s" % (1 + r.randrange(9999), r.choice(STREETS)),
    ]


def table(rows, out):
    with open(out, "w", buffering=1 << 20) as f:
        f.write("customer_id,name,email,phone,ssn,address\n")
        for i in range(rows):
            f.write(",".join(row(i)) + "\n")


def text(mib, out, rows, real=False):
    r = random.Random(5)
    target = mib << 20
    written = 0
    with open(out, "w", buffering=1 << 20) as f:
        while written < target:
            if written % 65536 < 120:
                c = row(r.randrange(rows))
                line = "Customer %s %s, %s, %s\n" % (c[0], c[1], c[2], c[3])
            else:
                first, last = r.choice(FIRST), r.choice(LAST)
                cid = r.randrange(10**8)
                if not real and cid % 7 == 4 and cid < rows * 7 + 11:
                    cid += 1  # table ids are i * 7 + 11
                line = "Customer CU%08d %s %s%d %s.%s%d@mail.example (%03d) %03d-%04d %d %s\n" % (
                    cid, first, last, r.randrange(997), first.lower(), last.lower(),
                    r.randrange(10**6), 201 + r.randrange(700), r.randrange(1000), r.randrange(10000),
                    1 + r.randrange(9999), r.choice(STREETS))
            f.write(line)
            written += len(line)


if __name__ == "__main__":
    if sys.argv[1] == "table":
        table(int(sys.argv[2]), sys.argv[3])
    else:
        text(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 10_000_000,
             len(sys.argv) > 5 and sys.argv[5] == "real")
