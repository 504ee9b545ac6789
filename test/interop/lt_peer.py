"""A python3-libtorrent peer for the interop tests, confined to 127.0.0.1.

Run with Debian's /usr/bin/python3 (python3-libtorrent 2.0.8). It speaks JSON lines on
stdout so the test can follow it:

  create  --data PATH --out FILE [--piece-length N] [--tracker URL] [--format v1|v2|hybrid]
          makes a .torrent of PATH (file or directory), prints {"event":"created","infoHash":..}
          (v1 by default; "infoHash" is the 20 bytes peers use: SHA-1, or truncated SHA-256 for v2)
  seed    --torrent FILE --save DIR [--port N] [--connect HOST:PORT ...]
          checks the data in DIR (so a copy with zeroed pieces seeds only what it has),
          prints {"event":"listening","port":N}, then {"event":"ready","pieces":n,...}
  leech   --torrent FILE --save DIR [--connect HOST:PORT ...]
          downloads, prints {"event":"finished"} once every piece is verified
  leech   --magnet URI --save DIR [--info-out FILE] [--connect HOST:PORT ...]
          the same from a magnet link: the peers given are dialled at once, and once the
          info dict came (BEP 9) it prints {"event":"metadata","size":n} and writes it to FILE
  dht     a DHT-only node (no torrent): prints {"event":"listening","port":N} (UDP and TCP),
          {"event":"dht-announce","infoHash":hex,"port":p} for every announce_peer it takes,
          and {"event":"dht-stats","nodes":n} about twice a second

With a DHT, {"event":"dht-live","ports":[..]} about twice a second lists the loopback
(127.0.0.1 or ::1) ports of the live nodes in its routing table (nodes that answered its queries).

--dht turns the DHT on in seed/leech mode (confined to loopback: no bootstrap routers,
only the --dht-node HOST:PORT given, [::1]:PORT for IPv6); a seeder then announces every
--dht-announce-every seconds. --dht-log writes every DHT packet to stderr.

--host ::1 listens on [::1] only (every mode but create): the session, and so its DHT, is
IPv6-only (BEP 32: libtorrent then answers with nodes6 and 18-byte values).

--force-encryption makes the session accept and open only RC4-encrypted connections
(MSE/PE: in_enc_policy = out_enc_policy = pe_forced, allowed_enc_level = pe_rc4,
prefer_rc4; INTEROP.md, "Peers that insist on encryption"). --disable-encryption makes it
refuse MSE both ways (pe_disabled), like a client that speaks plaintext only.

Every mode prints {"event":"stats",...} about twice a second (payload bytes up/down,
pieces, peers, the transport of each connected peer) until it is stopped with SIGTERM,
and {"event":"connect-attempt","transport":"utp"|"tcp"} for every outgoing attempt,
and {"event":"transports","seen":[...]} whenever a connected peer uses a transport not
seen before.
Peer errors go to stderr.

--transports: "default" leaves libtorrent's own (TCP and uTP, uTP dialled first); "utp"
turns TCP off both ways, "tcp" turns uTP off (INTEROP.md, "Peers that speak only uTP").
DHT (unless --dht or mode dht), LSD, UPnP and NAT-PMP are off: nothing leaves loopback.
"""
import argparse
import json
import os
import signal
import sys
import time
import warnings

import libtorrent as lt

# session.status() and dht_state() are deprecated, yet the simplest way to read the DHT's
# node count and node id.
warnings.simplefilter("ignore", DeprecationWarning)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def note(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def create(args):
    fs = lt.file_storage()
    lt.add_files(fs, args.data)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[args.format]
    ct = lt.create_torrent(fs, args.piece_length, flags=flags)
    if args.tracker:
        ct.add_tracker(args.tracker)
    ct.set_creator("libtorrent interop test")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.data)))
    data = lt.bencode(ct.generate())
    with open(args.out, "wb") as f:
        f.write(data)
    info = lt.torrent_info(args.out)
    hashes = info.info_hashes()
    wire = hashes.get_best().to_bytes().hex() if args.format == "v2" else str(hashes.v1)
    emit({"event": "created", "infoHash": wire, "pieces": info.num_pieces()})


# --transports: libtorrent's own defaults (TCP and uTP, uTP dialled first), or one of them off
TRANSPORTS = {
    "default": {},
    "utp": {"enable_incoming_tcp": False, "enable_outgoing_tcp": False},
    "tcp": {"enable_incoming_utp": False, "enable_outgoing_utp": False},
}


# peer_info::utp_socket (17_bit in libtorrent 2.0); the Python bindings do not export it
UTP_SOCKET = getattr(lt.peer_info, "utp_socket", 1 << 17)


def session(port, dht=False, dht_log=False, transports="default", force_encryption=False, disable_encryption=False, host="127.0.0.1"):
    settings = {
        # --host ::1: IPv6 only, written [::1]:PORT
        "listen_interfaces": ("[%s]:%d" if ":" in host else "%s:%d") % (host, port),
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.connect_notification
        | lt.alert.category_t.tracker_notification,
    }
    settings.update(TRANSPORTS[transports])
    if force_encryption:
        settings.update({
            "in_enc_policy": 0,
            "out_enc_policy": 0,
            "allowed_enc_level": 2,
            "prefer_rc4": True,
        })
    if disable_encryption:
        settings.update({"in_enc_policy": 2, "out_enc_policy": 2})
    if dht:
        # Loopback DHT (INTEROP.md): never the public routers, and no filter that drops
        # nodes for sharing 127.0.0.1 or for ids that do not match their IP (BEP 42).
        settings.update({
            "enable_dht": True,
            "dht_bootstrap_nodes": "",
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_prefer_verified_node_ids": False,
            "dht_ignore_dark_internet": False,
            "dht_enforce_node_id": False,
        })
        settings["alert_mask"] |= lt.alert.category_t.dht_notification
        if dht_log:
            settings["alert_mask"] |= lt.alert.category_t.dht_log_notification
    s = lt.session(settings)
    return s


def add_dht_nodes(s, nodes):
    for node in nodes:
        s.add_dht_node(parse_peer(node))


def dht_live_ports(s):
    """Asks for the routing table's live nodes (answered when the alert comes: live_ports)."""
    ids = s.dht_state().get(b"node-id") or []
    if ids:
        s.dht_live_nodes(lt.sha1_hash(ids[0][:20]))


def live_ports(a):
    """The loopback ports in a dht_live_nodes_alert: nodes that answered this node's queries."""
    return sorted(n["endpoint"][1] for n in a.nodes if n["endpoint"][0] in ("127.0.0.1", "::1"))


def note_dht(a):
    """DHT alerts as notes on stderr; True when `a` was one."""
    if isinstance(a, lt.dht_log_alert):
        note("dht log: " + a.message())
    elif isinstance(a, lt.dht_pkt_alert):
        note("dht pkt: " + a.message())
    elif isinstance(a, lt.dht_bootstrap_alert):
        note("dht: bootstrap done")
    else:
        return False
    return True


def wait_listening(s, transports="default"):
    # the TCP listener when there is one, else the uTP socket
    wanted = lt.socket_type_t.utp if transports == "utp" else lt.socket_type_t.tcp
    deadline = time.time() + 20
    while time.time() < deadline:
        s.wait_for_alert(200)
        for a in s.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                note("listen failed: " + a.message())
                sys.exit(2)
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == wanted:
                    return a.port
    note("listen timed out")
    sys.exit(2)


def parse_peer(text):
    host, port = text.rsplit(":", 1)
    return (host.strip("[]"), int(port))


def run(args, leech):
    s = session(args.port, args.dht, args.dht_log, args.transports, args.force_encryption, args.disable_encryption, args.host)
    port = wait_listening(s, args.transports)
    emit({"event": "listening", "port": port})
    if args.dht:
        add_dht_nodes(s, args.dht_node)
    if args.magnet:
        params = lt.parse_magnet_uri(args.magnet)
        params.save_path = args.save
        h = s.add_torrent(params)
        # No metadata yet, so no check to wait for: dial the peers that have it now.
        for peer in args.connect:
            h.connect_peer(parse_peer(peer))
    else:
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
    last_dht_announce = 0.0
    transports_seen = set()
    while not stopping:
        s.wait_for_alert(100)
        for a in s.pop_alerts():
            if note_dht(a):
                pass
            elif isinstance(a, lt.metadata_received_alert):
                info_section = h.torrent_file().info_section()
                if args.info_out:
                    with open(args.info_out, "wb") as f:
                        f.write(info_section)
                emit({"event": "metadata", "size": len(info_section)})
            elif isinstance(a, lt.dht_reply_alert):
                note("dht reply: " + a.message())
            elif isinstance(a, lt.dht_live_nodes_alert):
                emit({"event": "dht-live", "ports": live_ports(a)})
            elif isinstance(a, lt.peer_connect_alert):
                # an outgoing attempt starts; the bindings do not export its socket_type, the
                # message names it ("connecting to peer (uTP)")
                utp = "utp" in a.message().lower()
                note("connect: " + a.message())
                emit({"event": "connect-attempt", "transport": "utp" if utp else "tcp"})
            elif isinstance(a, (lt.peer_error_alert, lt.peer_disconnected_alert)):
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
                if not args.magnet:
                    for peer in args.connect:
                        h.connect_peer(parse_peer(peer))
        # Checked every turn (at most 100 ms apart), not only with the 0.5 s stats: on a
        # quiet machine a whole transfer and its disconnect fit between two stats lines.
        connected = sorted("utp" if p.flags & UTP_SOCKET else "tcp" for p in h.get_peer_info())
        if not transports_seen.issuperset(connected):
            transports_seen.update(connected)
            emit({"event": "transports", "seen": sorted(transports_seen)})
        st = h.status()
        if leech and not finished and st.is_seeding:
            finished = True
            emit({"event": "finished"})
        now = time.time()
        # Until its node knows others, an announce reaches nobody: repeat it (on loopback
        # the default 15-minute interval would outlast the test).
        if args.dht and ready and not leech and now - last_dht_announce >= args.dht_announce_every:
            last_dht_announce = now
            h.force_dht_announce()
        if now - last_stats >= 0.5:
            last_stats = now
            if args.dht:
                dht_live_ports(s)
            emit({
                "event": "stats",
                "uploaded": st.total_payload_upload,
                "downloaded": st.total_payload_download,
                "pieces": st.num_pieces,
                "peers": st.num_peers,
                "seeding": st.is_seeding,
                "state": str(st.state),
                "transports": connected,
            })
    note("stopping")


def dht_only(args):
    s = session(args.port, True, args.dht_log, host=args.host)
    port = wait_listening(s)
    emit({"event": "listening", "port": port})
    add_dht_nodes(s, args.dht_node)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    last_stats = 0.0
    while not stopping:
        s.wait_for_alert(100)
        for a in s.pop_alerts():
            if note_dht(a):
                pass
            elif isinstance(a, lt.dht_announce_alert):
                emit({"event": "dht-announce", "infoHash": str(a.info_hash), "port": a.port})
            elif isinstance(a, lt.dht_get_peers_alert):
                note("dht: get_peers for %s" % a.info_hash)
            elif isinstance(a, lt.dht_live_nodes_alert):
                emit({"event": "dht-live", "ports": live_ports(a)})
        now = time.time()
        if now - last_stats >= 0.5:
            last_stats = now
            dht_live_ports(s)
            emit({"event": "dht-stats", "nodes": s.status().dht_nodes})
    note("stopping")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["create", "seed", "leech", "dht"])
    p.add_argument("--data")
    p.add_argument("--out")
    p.add_argument("--piece-length", type=int, default=0)
    p.add_argument("--tracker")
    p.add_argument("--format", choices=["v1", "v2", "hybrid"], default="v1")
    p.add_argument("--torrent")
    p.add_argument("--save")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--connect", action="append", default=[])
    p.add_argument("--magnet")
    p.add_argument("--info-out")
    p.add_argument("--dht", action="store_true")
    p.add_argument("--dht-node", action="append", default=[])
    p.add_argument("--dht-announce-every", type=float, default=3.0)
    p.add_argument("--dht-log", action="store_true")
    p.add_argument("--transports", choices=sorted(TRANSPORTS), default="default")
    p.add_argument("--force-encryption", action="store_true")
    p.add_argument("--disable-encryption", action="store_true")
    args = p.parse_args()
    if args.mode == "create":
        create(args)
    elif args.mode == "dht":
        dht_only(args)
    else:
        run(args, args.mode == "leech")


if __name__ == "__main__":
    main()
