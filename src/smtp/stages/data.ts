/** Replies for message content the decoder refused (DATA, RFC 5321 §4.1.1.4; BDAT, RFC 3030). */
import type { ContentProblem } from '../data-decoder.ts';
import { type Reply, replies } from '../replies.ts';

export function contentProblemReply(problem: ContentProblem, maxMessageSize: number): Reply {
  switch (problem) {
    case 'too-large':
      return replies.tooBig(maxMessageSize); // RFC 1870 §6.3: 552
    case 'bare-line-ending':
      return replies.bareLineEndingInData();
    case 'line-too-long':
      return replies.textLineTooLong();
    case 'no-memory':
      return replies.contentMemoryFull();
    default:
      return problem satisfies never;
  }
}
