import { z } from 'zod';

/** One master as a minion knows it: where to enrol and where to connect once accepted. */
export const MasterAddressSchema = z.strictObject({
  id: z.string().min(1).optional(),
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
  enrolPort: z.int().min(1).max(65535),
});
export type MasterAddress = z.output<typeof MasterAddressSchema>;

export function describeMaster(master: MasterAddress): string {
  return `${master.id ?? master.host}@${master.host}:${master.port}`;
}
