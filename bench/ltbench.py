#!/usr/bin/python3
"""python3-libtorrent side of `npm run bench`: make the torrent, seed it, leech it.

Every session listens on 127.0.0.1 only, with DHT, LSD, UPnP and NAT-PMP off (they
would send traffic off loopback). TRANSPORT says what the seeder and the libtorrent
leecher speak, so both leechers use the same transport: "tcp" (uTP off) or "utp" (TCP
off both ways, INTEROP.md's settings for peers that speak only uTP).

  ltbench.py make-torrent DATA_FILE OUT.torrent
  ltbench.py seed TORRENT SAVE_DIR [TRANSPORT] [--force-encryption] [--seed-mode]
                                               prints "PORT <n>" once seeding; stop with SIGTERM.
                                               --seed-mode: no start-up hash check (libtorrent
                                               hashes each piece before it first sends it)
                                               --force-encryption: RC4-encrypted peers only (MSE/PE
                                               forced both ways, RC4 only, prefer_rc4; INTEROP.md)
  ltbench.py leech TORRENT OUT_DIR SEED_PORT [TRANSPORT]  prints one JSON line when the download is complete
"""
import json
import os
import resource
import sys
import time

import libtorrent as lt

LOOPBACK = {
    "listen_interfaces": "127.0.0.1:0",
    "outgoing_interfaces": "127.0.0.1",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    # Every peer is 127.0.0.1 here; without this libtorrent refuses the second connection.
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
}


TRANSPORTS = {
    "tcp": {"enable_incoming_utp": False, "enable_outgoing_utp": False},
    "utp": {"enable_incoming_tcp": False, "enable_outgoing_tcp": False,
            "enable_incoming_utp": True, "enable_outgoing_utp": True},
}


def make_torrent(data_file, out_path):
    fs = lt.file_storage()
    lt.add_files(fs, data_file)
    # v1 only with 1 MiB pieces, the same shape as `mktorrent -l 20`, without a tracker.
    ct = lt.create_torrent(fs, 1 << 20, flags=lt.create_torrent.v1_only)
    ct.set_creator("effect-torrent bench")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(data_file)))
    with open(out_path, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def wait_for(session, handle, done, timeout):
    deadline = time.monotonic() + timeout
    while not done(handle.status()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s: {handle.status().state}")
        session.wait_for_alert(50)
        for a in session.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.listen_failed_alert)):
                raise SystemExit(f"libtorrent: {a.message()}")


def seed(torrent_path, save_dir, transport="tcp", force_encryption=False, seed_mode=False):
    settings = lt.high_performance_seed()
    settings.update(LOOPBACK)
    settings.update(TRANSPORTS[transport])
    if force_encryption:
        settings.update({"in_enc_policy": 0, "out_enc_policy": 0, "allowed_enc_level": 2, "prefer_rc4": True})
    settings["send_buffer_watermark"] = 32 * 1024 * 1024
    settings["send_buffer_low_watermark"] = 4 * 1024 * 1024
    session = lt.session(settings)
    params = {"ti": lt.torrent_info(torrent_path), "save_path": save_dir}
    if seed_mode:
        params["flags"] = lt.torrent_flags.seed_mode
    handle = session.add_torrent(params)
    wait_for(session, handle, lambda s: s.is_seeding, 600)
    print(f"PORT {session.listen_port()}", flush=True)
    while True:
        session.wait_for_alert(1000)
        session.pop_alerts()


def leech(torrent_path, out_dir, seed_port, transport="tcp"):
    # A stock leecher: libtorrent's default settings, only the loopback ones and the transport changed.
    settings = lt.default_settings()
    settings.update(LOOPBACK)
    settings.update(TRANSPORTS[transport])
    session = lt.session(settings)
    info = lt.torrent_info(torrent_path)
    start = time.monotonic()
    # CPU over the transfer alone (RUSAGE_SELF counts every thread), start-up left out.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    handle = session.add_torrent({"ti": info, "save_path": out_dir})
    handle.connect_peer(("127.0.0.1", seed_port))
    wait_for(session, handle, lambda s: s.is_finished, 3600)
    seconds = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    # is_finished can be reported a moment before num_pieces counts the last piece.
    wait_for(session, handle, lambda s: s.num_pieces == info.num_pieces(), 10)
    status = handle.status()
    # Flush and close the files before reporting, so the caller can hash them.
    session.remove_torrent(handle)
    print(json.dumps({
        "seconds": seconds,
        "cpuSeconds": cpu_seconds,
        "bytes": info.total_size(),
        "pieces": status.num_pieces,
        "pieceCount": info.num_pieces(),
    }), flush=True)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "make-torrent":
        make_torrent(*args)
    elif command == "seed":
        flags = ("--force-encryption", "--seed-mode")
        rest = [a for a in args[2:] if a not in flags]
        seed(args[0], args[1], *rest, force_encryption="--force-encryption" in args[2:], seed_mode="--seed-mode" in args[2:])
    elif command == "leech":
        leech(args[0], args[1], int(args[2]), *args[3:])
    else:
        raise SystemExit(f"unknown command {command}")
