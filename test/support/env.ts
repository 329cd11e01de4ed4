// Environment of in-process brokers (unit and integration tiers): rate limits
// high enough never to trigger; the rate-limit tests start their own processes.
process.env.RATE_LIMIT_MAX ??= "100000";
process.env.LOGIN_RATE_LIMIT_MAX ??= "100000";
