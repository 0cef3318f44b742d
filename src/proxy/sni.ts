/**
 * SNI routing (listen.sni): with TLS on the client side, every client connection arrives on the one bootstrap port,
 * and the name the client asked for in its TLS ClientHello says where it goes: the bootstrap name to the upstream
 * bootstrap servers, `broker-$(nodeId).kafka.example.com` (the pattern) to broker N. The proxy hands out those names
 * in Metadata, FindCoordinator, DescribeCluster and leader hints (with the same port), so one balancer port or one
 * Kubernetes Service port carries everything, whatever the number of brokers: a broker that joins later is served
 * as soon as a response names it (its name is made from its node id; there is no listener to open).
 */

export const NODE_ID_PLACEHOLDER = '$(nodeId)';

export type SniTarget = { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number };

export class SniRouter {
  private readonly brokerName: RegExp;
  private readonly bootstrap: string;

  constructor(bootstrapHost: string, private readonly brokerHostPattern: string) {
    this.bootstrap = bootstrapHost.toLowerCase();
    const [before, after] = brokerHostPattern.split(NODE_ID_PLACEHOLDER).map((part) => part.toLowerCase());
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.brokerName = new RegExp(`^${esc(before)}(0|[1-9][0-9]{0,9})${esc(after)}$`);
  }

  /** The name clients are given for broker N. */
  hostFor(nodeId: number): string {
    return this.brokerHostPattern.replace(NODE_ID_PLACEHOLDER, String(nodeId));
  }

  /** Where a connection that asked for `servername` goes; undefined for a name this proxy does not serve. */
  route(servername: string | false | null | undefined): SniTarget | undefined {
    if (!servername) return undefined;
    const name = servername.toLowerCase().replace(/\.$/, '');
    if (name === this.bootstrap) return { kind: 'bootstrap' };
    const m = this.brokerName.exec(name);
    if (!m) return undefined;
    const nodeId = Number(m[1]);
    return nodeId <= 0x7fffffff ? { kind: 'broker', nodeId } : undefined;
  }

  /** For messages: what names are served. */
  describe(): string { return `${this.bootstrap} or ${this.brokerHostPattern}`; }
}

/** Whether `pattern` is a host name with exactly one $(nodeId) in it (checked at configuration load). */
export function validBrokerHostPattern(pattern: string): boolean {
  if (pattern.split(NODE_ID_PLACEHOLDER).length !== 2) return false;
  return validHostName(pattern.replace(NODE_ID_PLACEHOLDER, '0'));
}

export function validHostName(name: string): boolean {
  return name.length <= 253 && /^(?!-)[a-zA-Z0-9-]{1,63}(?<!-)(\.(?!-)[a-zA-Z0-9-]{1,63}(?<!-))*$/.test(name);
}
