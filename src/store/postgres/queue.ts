/** The shared job queue's INSERT, for Store.enqueueJob and for writes inside a larger transaction. */

import type pg from 'pg';
import { JOB_COLUMNS, jobFromRow } from '../rows.ts';
import type { NewQueueJob, QueueJob } from '../store.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

export async function insertQueueJob(query: Query, job: NewQueueJob, now = Date.now()): Promise<QueueJob> {
  const { rows } = await query(
    `INSERT INTO queue (kind, payload, due_at, attempts, created_at) VALUES ($1, $2, $3, 0, $4)
     RETURNING ${JOB_COLUMNS}`,
    [job.kind, job.payload, job.dueAt?.getTime() ?? now, now],
  );
  return jobFromRow(rows[0] ?? {});
}
