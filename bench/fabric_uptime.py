"""Fabric 2 peer for `ops run -- uptime`: one ThreadingGroup over every lab host."""
import sys

from fabric import ThreadingGroup
from paramiko import RejectPolicy

key, known_hosts, *hosts = sys.argv[1:]
group = ThreadingGroup(*hosts, user="root", connect_kwargs={"key_filename": key, "look_for_keys": False, "allow_agent": False})
for conn in group:
    # Same trust as ops: only the pinned keys, never auto-add.
    conn.client.load_host_keys(known_hosts)
    conn.client.set_missing_host_key_policy(RejectPolicy())
results = group.run("uptime", hide=True)
for conn, result in results.items():
    print(f"{conn.host} | {result.stdout.strip()}")
sys.exit(0 if all(r.ok for r in results.values()) else 1)
