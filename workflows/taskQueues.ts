// Task queues: orchestration (workflows), extraction (model inference, CPU-bound, reads datasets
// and models) and reduction (sums and spectra). Separate queues let each scale on its own machines.
export const TASK_QUEUES = {
  orchestration: 'entroscope-orchestration',
  extraction: 'entroscope-extraction',
  reduction: 'entroscope-reduction',
} as const;

export type QueueRole = keyof typeof TASK_QUEUES;
export const ALL_ROLES = Object.keys(TASK_QUEUES) as QueueRole[];
