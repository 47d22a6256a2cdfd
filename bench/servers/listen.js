'use strict';
// The tail every Express-style bench app shares: listen on $PORT (0: any), announce the port to
// the harness, and, when the framework has engine counters (xypriss's engineStats(); Express has
// none), print them on shutdown.
module.exports = function listen(app, framework) {
  const server = app.listen(Number(process.env.PORT || 0), (err) => {
    if (err) throw err;
    console.log(`LISTENING ${server.address().port}`);
  });
  if (typeof framework.engineStats === 'function') {
    const printStatsAndExit = () => {
      process.stdout.write(`STATS ${JSON.stringify(framework.engineStats())}\n`, () => process.exit(0));
    };
    process.once('SIGTERM', printStatsAndExit);
    process.once('SIGINT', printStatsAndExit);
  }
  return server;
};
