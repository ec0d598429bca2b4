import { describe, expect, it } from 'vitest';
import { ApiError } from '../../core/kernel/errors.ts';
import {
  envNameProblem,
  labelKeyProblem,
  labelSelector,
  labelValueProblem,
  podNameProblem,
} from './names.ts';

describe('names Kubernetes accepts', () => {
  it('pod names: DNS-1123 labels', () => {
    expect(podNameProblem('iarnet-a0123456789abcdef')).toBeUndefined();
    for (const bad of ['', 'Upper', 'under_score', '-lead', 'trail-', 'a.b', 'x'.repeat(64)]) {
      expect(podNameProblem(bad), bad).toBeDefined();
    }
  });

  it('label keys: optional DNS prefix / qualified name', () => {
    for (const ok of ['iarnet.node', 'app', 'example.com/role', 'a_b-c.d'])
      expect(labelKeyProblem(ok), ok).toBeUndefined();
    for (const bad of ['', '/x', 'Bad_Prefix.com/x', 'x/', '-x', `${'a'.repeat(64)}`, 'a b']) {
      expect(labelKeyProblem(bad), bad).toBeDefined();
    }
  });

  it('label values: empty or ≤ 63 alphanumerics with - _ . inside', () => {
    for (const ok of ['', 'res_0123abcd', 'a', 'node-1.x']) expect(labelValueProblem(ok), ok).toBeUndefined();
    for (const bad of ['-a', 'a-', 'a b', 'a/b', 'x'.repeat(64), 'é'])
      expect(labelValueProblem(bad), bad).toBeDefined();
  });

  it('env names', () => {
    for (const ok of ['PATH', '_X', 'my.var', 'a-b']) expect(envNameProblem(ok), ok).toBeUndefined();
    for (const bad of ['1X', 'A=B', 'A B', '', '..', 'é']) expect(envNameProblem(bad), bad).toBeDefined();
  });

  it('builds a selector only from valid labels (no selector injection)', () => {
    expect(labelSelector({ 'iarnet.node': 'n1', 'iarnet.alloc': 'a1' })).toBe(
      'iarnet.node=n1,iarnet.alloc=a1',
    );
    expect(() => labelSelector({ 'iarnet.node': 'n1,evil!=x' })).toThrow(ApiError);
    try {
      labelSelector({ 'iarnet.node': 'n1,x' });
    } catch (e) {
      expect((e as ApiError).status).toBe(400);
      expect((e as ApiError).fields?.[0]?.path).toBe('labels.iarnet.node');
    }
  });
});
