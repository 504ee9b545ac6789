// Stand-in for the real polyfill, whose native binary is downloaded at install time
// (impossible here). Loopback TCP never touches WebRTC.
const unavailable = () => { throw new Error("WebRTC is not available") }
export class RTCPeerConnection { constructor() { unavailable() } }
export class RTCSessionDescription { constructor() { unavailable() } }
export class RTCIceCandidate { constructor() { unavailable() } }
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
