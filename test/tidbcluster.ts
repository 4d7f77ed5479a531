// A TidbCluster builder for tests: makeTc('basic').spec({ tikv: { replicas: 4 } }).obj().
import type { TidbCluster, TidbClusterStatus } from '../src/cluster/schema.ts';
import { validateTidbCluster, type TidbClusterSpecInput } from '../src/cluster/validate.ts';

export class TcBuilder {
  private input: TidbClusterSpecInput = {};
  private st: TidbClusterStatus = {};
  private gen = 1;
  private ns = 'db';
  private readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  spec(input: TidbClusterSpecInput): this {
    this.input = { ...this.input, ...input };
    return this;
  }
  namespace(ns: string): this {
    this.ns = ns;
    return this;
  }
  generation(g: number): this {
    this.gen = g;
    return this;
  }
  status(s: TidbClusterStatus): this {
    this.st = s;
    return this;
  }
  obj(): TidbCluster {
    const v = validateTidbCluster(this.name, this.input);
    if (!v.ok) throw new Error(`test TidbCluster is invalid: ${JSON.stringify(v.errors)}`);
    return { metadata: { name: this.name, namespace: this.ns, uid: `uid-${this.name}`, generation: this.gen }, spec: v.spec, status: this.st };
  }
}

export const makeTc = (name = 'basic') => new TcBuilder(name);
