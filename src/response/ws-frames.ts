import * as ws from 'ws';

/** ws's frame parser (a Writable), a named export of its ES module entry that @types/ws does not declare. */
export interface FrameReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

/** ws's Receiver and Sender, typed: the parser that reassembles messages and the writer of single frames. */
export const { Receiver, Sender } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; skipUTF8Validation: boolean; maxPayload?: number; binaryType: 'nodebuffer' }) => FrameReceiver;
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};
