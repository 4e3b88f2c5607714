/**
 * check_greylist: the greylisting of postgrey (a Postfix policy service), built in. The triplet
 * store lives in the shared store, so every node of a cluster sees the same first attempts.
 */
import { localAddress } from '../local-address.ts';
import { DUNNO, type Restriction, type RuleFactory, type RuleServices, type RuleSpec } from '../restriction.ts';

function checkGreylist(spec: RuleSpec, services: RuleServices): Restriction {
  if (spec.args.length > 0) throw new Error('check_greylist takes no arguments; tune it under "greylisting"');
  const { greylist } = services;
  if (!greylist) throw new Error('check_greylist needs the greylisting service (greylisting.enabled: true)');
  return {
    name: 'check_greylist',
    label: 'check_greylist',
    evaluate(ctx) {
      if (!ctx.recipient || ctx.sender === undefined) return DUNNO;
      // Our own users and networks are never greylisted: the relay list's permit ends only that list,
      // and postgrey sits after permit_mynetworks and permit_sasl_authenticated in Postfix setups.
      // A mail program does not retry a 450, so the user would see the send fail.
      if (ctx.authenticated !== undefined || ctx.server.mynetworks.contains(ctx.clientAddress)) return DUNNO;
      const { recipient } = ctx;
      const check = () =>
        greylist.check({
          clientAddress: ctx.clientAddress,
          sender: ctx.sender?.address ?? '',
          recipient: recipient.address,
        });
      // A local address with no account is not ours to defer: the routing step refuses it with
      // reject_unlisted_recipient's 550 5.1.1 (RFC 5321 §3.3: a mailbox that does not exist is a 550),
      // whatever the list holds. Deferred here, a dictionary attack would get a 450 for every guess,
      // store a triplet per guess, and count its retried guesses toward the client's pass-list.
      const target = localAddress(recipient, ctx.server);
      if (!target.local) return check();
      const exists = ctx.accountExists(target.address);
      if (exists instanceof Promise) return exists.then((found) => (found ? check() : DUNNO));
      return exists ? check() : DUNNO;
    },
  };
}

export const greylistRules: Record<string, RuleFactory> = { check_greylist: checkGreylist };
