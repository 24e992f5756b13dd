/** Day-two commands: looking at what runs (`ops logs`, `ops status`). */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';
import { addConnectionOptions, collect } from './remote.js';

const actions = () => import('./actions/daytwo.js');

export function registerDayTwoCommands(program: Command): void {
  examples(
    addConnectionOptions(
      program
        .command('logs')
        .summary("the journal of an environment's hosts, merged in time order")
        .description(
          "Shows the journal (journalctl, as root) of the environment's hosts — by default the units of each host's roles: the app's processes on web and worker hosts (a Procfile app's every process), nginx on balancers, PostgreSQL, RabbitMQ, the cache — merged in time order, each line with its host. --unit names what to show: web, worker, beat, a Procfile process type, nginx, postgres, rabbitmq, redis, memcached, cache, ssh, cron, acme, or a unit name (foo.service). -f follows until Ctrl-C; a host whose connection drops is reconnected and goes on after its last line. Times are UTC. --json prints one event per entry (host, unit, time, message).",
        )
        .argument('[env]', 'environment')
        .option('--role <role>', 'only hosts with this role')
        .option('--host <name|address>', 'only this host')
        .option('--unit <name>', 'what to show (repeatable; default: the units of each host\'s roles)', collect)
        .option('-f, --follow', 'keep showing new entries until Ctrl-C')
        .option('--since <when>', 'entries since a span back from now (30min, 2h, 1d, 1w) or a date (2026-12-01, "2026-12-01 14:00")')
        .option('--grep <regex>', "only entries whose message matches (journalctl's PCRE; case-insensitive when all lower case)")
        .option('-n, --lines <n>', 'entries per host (before following)', '50'),
    ).action(action(lazy(actions, 'logs'))),
    ['ops logs staging', 'ops logs production --unit web -f', 'ops logs staging --role worker --since 1h --grep Traceback', 'ops logs lab --host lab-4 --unit nginx -n 200', 'ops --json logs staging --unit worker'],
  );
  examples(
    addConnectionOptions(
      program
        .command('status')
        .summary('one row per host: reachable, OS, roles, live release, units, disk, memory, certificate')
        .description(
          "Reads every host of the environment in one round trip each (as root): its OS release, roles, the live release (id, who deployed it; its commit and time with --json), the units its roles run — an enabled unit that is not active is down, with the `ops logs` line to look at it —, disk and memory use, and on balancers the days left on the served certificate; then the health check of the live release, through every balancer (else on each web host's app server). Exits 1 when a host is unreachable, a unit is down or the health check fails. --drift also asks the master what a converge would change now on each host (a dry run: nothing changes, no release, no hook; the DRIFT column, the states by name below). --json prints a host_status event per host (with `drift`, the would-change states, under --drift), a health event per check and a summary.",
        )
        .argument('[env]', 'environment')
        .option('--drift', 'also show what a converge would change now on each host (through the master, read-only)'),
    ).action(action(lazy(actions, 'status'))),
    ['ops status staging', 'ops status production --drift', 'ops --json status production'],
  );
  examples(
    addConnectionOptions(
      program
        .command('maintenance')
        .summary("balancers answer 503 with a maintenance page (but the health check), or serve again")
        .description(
          "on: every balancer answers every request with 503 and the page of template balancer/maintenance.html.njk (your repo's templates/ may override it), showing --message — except the health-check path, so ops can still check the app, and the ACME challenge path. off: the site serves again. Nothing reloads: nginx looks at the flag on each request. ops status shows it.",
        )
        .argument('<state>', 'on or off')
        .argument('[env]', 'environment')
        .option('--message <text>', 'the text of the page (HTML-escaped)'),
    ).action(action(lazy(actions, 'maintenance'))),
    ['ops maintenance on production --message "Back at 14:00 UTC"', 'ops maintenance off production', 'ops status production'],
  );
}
