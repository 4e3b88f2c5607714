/**
 * check_greylist: the greylisting of postgrey (a Postfix policy service), built in. The triplet
 * store lives in the shared store, so every node of a cluster sees the same first attempts.
 */
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
      return greylist.check({
        clientAddress: ctx.clientAddress,
        sender: ctx.sender?.address ?? '',
        recipient: ctx.recipient.address,
      });
    },
  };
}

export const greylistRules: Record<string, RuleFactory> = { check_greylist: checkGreylist };
