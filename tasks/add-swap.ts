// Gives hosts a swap file (TracPro's add_swap, idempotent): the file, its fstab line, swapon.
// A second run changes nothing and says so. Containers (lab hosts) refuse swapon: the file and the
// fstab line are still made, and the task says swap is not active there.
//   ops task add-swap staging 2G --role web
import { defineTask } from 'ops';

export default defineTask({
  name: 'add-swap',
  description: 'add a swap file and its /etc/fstab line (changes nothing when present)',
  args: [{ name: 'size', description: 'size for fallocate, e.g. 512M or 2G', default: '1G' }],
  options: { path: { type: 'string', description: 'swap file', default: '/swapfile' } },
  async run(t) {
    const size = String(t.args.size);
    const path = String(t.options.path);
    if (!/^[1-9][0-9]*[MG]$/.test(size)) throw new Error(`size '${size}' is not like 512M or 2G`);
    if (!/^\/[A-Za-z0-9._/-]+$/.test(path)) throw new Error(`path '${path}' is not an absolute path of letters, digits and . _ / -`);
    const fstab = `${path} none swap sw 0 0`;
    const changed = await t.each(t.hosts(), async (h) => {
      const did: string[] = [];
      if (!(await h.sudo(['test', '-f', path], { check: false, quiet: true })).ok) {
        await h.sudo(['fallocate', '-l', size, '--', path], { quiet: true });
        await h.sudo(['chmod', '600', '--', path]);
        await h.sudo(['mkswap', '--', path], { quiet: true });
        did.push(`made ${path} (${size})`);
      }
      if (!(await h.sudo(['grep', '-qxF', '--', fstab, '/etc/fstab'], { check: false })).ok) {
        await h.sudo(`printf '%s\\n' ${t.quote(fstab)} >> /etc/fstab`);
        did.push('added the fstab line');
      }
      const active = (await h.sudo(['swapon', '--show=NAME', '--noheadings'], { quiet: true, check: false })).stdout.split('\n').includes(path);
      if (!active) {
        const on = await h.sudo(['swapon', '--', path], { quiet: true, check: false });
        if (on.ok) did.push('turned it on');
        else h.log(`swapon refused (${on.stderr.trim() || `exit ${on.code}`}): swap is not active on this host (containers cannot swap)`);
      }
      h.log(did.length ? `changed: ${did.join(', ')}` : 'unchanged: the swap file and its fstab line are there');
      return did.length > 0;
    });
    t.result(`${changed.filter(Boolean).length} of ${changed.length} host(s) changed`);
  },
});
