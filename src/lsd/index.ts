/** Local Service Discovery (BEP 14): peers on the local network, found by multicast announces. */
export { formatAnnounces, hostHeader, LSD_GROUP_V4, LSD_GROUP_V6, LSD_PORT, type LsdAnnounce, MAX_ANNOUNCE_BYTES, parseAnnounce } from "./codec.ts"
export { type LsdOptions, makeLsd } from "./lsd.ts"
export { type AnnouncePlan, type DueTorrent, planAnnounce } from "./plan.ts"
