import { defineErrors } from '@phoenix/protocol';

/** Every code the dashboard package throws. */
export const DashboardErrors = defineErrors({
  PHX_DASHBOARD_NOT_BUILT: { message: 'the dashboard has not been compiled (run npx tsc -b)' },
});
