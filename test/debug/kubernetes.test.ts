import assert from 'node:assert/strict';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { INSPECTOR_PORT, OPEN_SCRIPT, parseListen } from '../../src/debug/inspect.js';
import { kubectlCommands, podName, shellLine } from '../../src/debug/kubernetes.js';
import { isDistillError } from '../../src/errors.js';
import { distill } from '../helpers/cli.js';
import { tempDir } from '../helpers/components.js';

/**
 * `distill debug pod/NAME`: the kubectl commands it builds. No Kubernetes cluster can run on
 * these machines, so what is tested is the command line (as data, as printed, and as handed to
 * a kubectl on PATH that records its arguments), not a cluster's answer to it.
 */
describe('distill debug pod/NAME: the kubectl debug command', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-kubectl-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a shell: an ephemeral container targeting the container, the toolbox image, the general profile', () => {
    assert.deepEqual(
      kubectlCommands({ pod: 'web-0', container: 'app', namespace: 'shop', image: 'r.example/tb:1' }),
      [
        [
          'debug',
          'pod/web-0',
          '-n',
          'shop',
          '--target=app',
          '--image=r.example/tb:1',
          '--profile=general',
          '-it',
          '--',
          'sh',
        ],
      ],
    );
    assert.deepEqual(kubectlCommands({ pod: 'web-0', image: 'tb' })[0], [
      'debug',
      'pod/web-0',
      '--image=tb',
      '--profile=general',
      '-it',
      '--',
      'sh',
    ]);
  });

  test('--inspect: the container opens the inspector and stays; port-forward brings 9229 to the host port', () => {
    const [open, forward] = kubectlCommands({
      pod: 'web-0',
      container: 'app',
      image: 'tb',
      inspectPort: 9300,
    });
    assert.deepEqual(open, [
      'debug',
      'pod/web-0',
      '--target=app',
      '--image=tb',
      '--profile=general',
      '--',
      'sh',
      '-c',
      OPEN_SCRIPT,
    ]);
    assert.deepEqual(forward, ['port-forward', 'pod/web-0', `9300:${INSPECTOR_PORT}`]);
    assert.match(OPEN_SCRIPT, /kill -USR1 "\$p"/);
  });

  test('pod names and listen addresses are checked', () => {
    assert.equal(podName('pod/web-0'), 'web-0');
    assert.equal(podName('pods/a.b'), 'a.b');
    assert.equal(podName('my-container'), undefined);
    assert.throws(
      () => podName('pod/Web_0'),
      (e) => isDistillError(e, 'USAGE'),
    );
    assert.deepEqual(parseListen('9229'), { host: '127.0.0.1', port: 9229 });
    assert.deepEqual(parseListen('0.0.0.0:9300'), { host: '0.0.0.0', port: 9300 });
    assert.deepEqual(parseListen('[::1]:9300'), { host: '::1', port: 9300 });
    assert.throws(
      () => parseListen('70000'),
      (e) => isDistillError(e, 'USAGE'),
    );
    assert.equal(shellLine(['sh', '-c', "echo 'a b'"]), `sh -c 'echo '\\''a b'\\'''`);
  });

  test('the CLI prints the commands; --run runs them with the kubectl on PATH', async () => {
    const printed = await distill([
      'debug',
      'pod/web-0',
      '-c',
      'app',
      '-n',
      'shop',
      '--image',
      'r.example/tb:1',
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(
      printed.stdout,
      'kubectl debug pod/web-0 -n shop --target=app --image=r.example/tb:1 --profile=general -it -- sh\n',
    );
    const log = join(dir, 'args');
    const kubectl = join(dir, 'kubectl');
    await writeFile(
      kubectl,
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> ${log}\necho --- >> ${log}\nexit 0\n`,
    );
    await chmod(kubectl, 0o755);
    const ran = await distill(
      ['debug', 'pod/web-0', '-c', 'app', '--image', 'tb', '--inspect', '9300', '--run'],
      {
        PATH: `${dir}:${process.env.PATH}`,
      },
    );
    assert.equal(ran.code, 0, ran.stderr);
    const calls = (await readFile(log, 'utf8'))
      .split('---\n')
      .filter(Boolean)
      .map((c) => c.trimEnd().split('\n'));
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0]?.slice(0, 7), [
      'debug',
      'pod/web-0',
      '--target=app',
      '--image=tb',
      '--profile=general',
      '--',
      'sh',
    ]);
    assert.deepEqual(calls[1], ['port-forward', 'pod/web-0', '9300:9229']);
  });

  test('usage errors: no --image, --inspect without -c, -c on a Docker container', async () => {
    const noImage = await distill(['debug', 'pod/web-0']);
    assert.equal(noImage.code, 2);
    assert.match(noImage.stderr, /needs --image REF, a toolbox the cluster can pull/);
    const noContainer = await distill(['debug', 'pod/web-0', '--image', 'tb', '--inspect', '9229']);
    assert.equal(noContainer.code, 2);
    assert.match(noContainer.stderr, /--inspect on a pod needs -c CONTAINER/);
    const docker = await distill(['debug', 'my-app', '-c', 'x']);
    assert.equal(docker.code, 2);
    assert.match(docker.stderr, /-c, -n and --run go with pod\/NAME/);
  });
});
