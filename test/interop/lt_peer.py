"""A python3-libtorrent peer for the interop tests, confined to 127.0.0.1.

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). It speaks JSON lines on
stdout so the test can follow it:

  create  --data PATH --out FILE [--piece-length N] [--tracker URL]
          makes a .torrent of PATH (file or directory), prints {"event":"created","infoHash":..}
  seed    --torrent FILE --save DIR [--port N] [--connect HOST:PORT ...]
          checks the data in DIR (so a copy with zeroed pieces seeds only what it has),
          prints {"event":"listening","port":N}, then {"event":"ready","pieces":n,...}
  leech   --torrent FILE --save DIR [--connect HOST:PORT ...]
          downloads, prints {"event":"finished"} once every piece is verified

Every mode prints {"event":"stats",...} about twice a second (payload bytes up/down,
pieces, peers) until it is stopped with SIGTERM. Peer errors go to stderr.
DHT, LSD, UPnP and NAT-PMP are off: nothing leaves loopback.
"""
import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def note(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def create(args):
    fs = lt.file_storage()
    lt.add_files(fs, args.data)
    # v1 only: our client downloads v1 and hybrid torrents through their v1 hashes.
    ct = lt.create_torrent(fs, args.piece_length, flags=lt.create_torrent.v1_only)
    if args.tracker:
        ct.add_tracker(args.tracker)
    ct.set_creator("libtorrent interop test")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.data)))
    data = lt.bencode(ct.generate())
    with open(args.out, "wb") as f:
        f.write(data)
    info = lt.torrent_info(args.out)
    emit({"event": "created", "infoHash": str(info.info_hash()), "pieces": info.num_pieces()})


def session(port):
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.tracker_notification,
    }
    s = lt.session(settings)
    return s


def wait_listening(s):
    deadline = time.time() + 20
    while time.time() < deadline:
        s.wait_for_alert(200)
        for a in s.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                note("listen failed: " + a.message())
                sys.exit(2)
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp:
                    return s.listen_port()
    note("listen timed out")
    sys.exit(2)


def parse_peer(text):
    host, port = text.rsplit(":", 1)
    return (host, int(port))


def run(args, leech):
    s = session(args.port)
    port = wait_listening(s)
    emit({"event": "listening", "port": port})
    info = lt.torrent_info(args.torrent)
    params = {"ti": info, "save_path": args.save}
    # No resume data: libtorrent hashes whatever is on disk before it starts, so a
    # copy with zeroed pieces seeds only the pieces that really match.
    h = s.add_torrent(params)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    ready = False
    finished = False
    last_stats = 0.0
    while not stopping:
        s.wait_for_alert(100)
        for a in s.pop_alerts():
            if isinstance(a, (lt.peer_error_alert, lt.peer_disconnected_alert)):
                note("peer %s: %s" % (type(a).__name__, a.message()))
            elif isinstance(a, (lt.tracker_error_alert, lt.tracker_warning_alert)):
                note("tracker: " + a.message())
            elif isinstance(a, lt.tracker_reply_alert):
                note("tracker reply: " + a.message())
            elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                note("torrent error: " + a.message())
            elif isinstance(a, lt.torrent_checked_alert) and not ready:
                ready = True
                st = h.status()
                emit({"event": "ready", "pieces": st.num_pieces, "seeding": st.is_seeding})
                for peer in args.connect:
                    h.connect_peer(parse_peer(peer))
        st = h.status()
        if leech and not finished and st.is_seeding:
            finished = True
            emit({"event": "finished"})
        now = time.time()
        if now - last_stats >= 0.5:
            last_stats = now
            emit({
                "event": "stats",
                "uploaded": st.total_payload_upload,
                "downloaded": st.total_payload_download,
                "pieces": st.num_pieces,
                "peers": st.num_peers,
                "seeding": st.is_seeding,
                "state": str(st.state),
            })
    note("stopping")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["create", "seed", "leech"])
    p.add_argument("--data")
    p.add_argument("--out")
    p.add_argument("--piece-length", type=int, default=0)
    p.add_argument("--tracker")
    p.add_argument("--torrent")
    p.add_argument("--save")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--connect", action="append", default=[])
    args = p.parse_args()
    if args.mode == "create":
        create(args)
    else:
        run(args, args.mode == "leech")


if __name__ == "__main__":
    main()
