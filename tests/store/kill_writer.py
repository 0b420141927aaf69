"""Child process of the SIGKILL test: resumes the store at argv[1] and appends images 0..argv[2]-1 it lacks.

Prints the number of committed images after every commit so the parent can kill it mid-way through later appends.
"""

import sys

from tests.store.entries import LABELS, make_entry
from vlp.store import RegionStoreWriter


def main() -> None:
    path, total = sys.argv[1], int(sys.argv[2])
    writer = RegionStoreWriter(
        path, 16, provenance={"backend": "test"}, label_names=LABELS, max_attributes_per_region=2, commit_every=3
    )
    for index in range(total):
        entry = make_entry(index)
        if entry["image_id"] in writer:
            continue
        writer.add(**entry)
        if len(writer.committed_ids) and not len(writer) % 3:
            print(len(writer.committed_ids), flush=True)
    writer.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
