// The response side: what an injected request's answer goes through before the client sees it.
// rules/ builds the scrubber for a request; proxy/ runs bodies, headers and WebSocket frames through it.
export { EchoForms, type Replacement } from './echo-forms.js';
export { DECODABLE_ENCODINGS, ResponseEchoScrubber } from './echo-scrubber.js';
export { relayScrubbedFrames } from './websocket-scrub.js';
