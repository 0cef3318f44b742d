/**
 * Which upstream broker sits behind which proxy port. Each broker gets its own listener on
 * `brokerPortBase + nodeId`, a fixed rule so that clients holding cached metadata still reach the same broker
 * after a proxy restart. Brokers are learned from the responses that name them; a new broker gets its
 * listener as soon as it is first seen.
 */
export interface UpstreamAddress { host: string; port: number }

export interface BrokerListenerFactory {
  /** Opens the listener for a broker (bound on a later tick: see ProxyServer.listenersReady); once per node id. */
  openBrokerListener(nodeId: number, port: number): void;
}

/** SNI routing (src/proxy/sni.ts): brokers are told apart by name on one port, so no listener is opened per broker. */
export interface BrokerNaming {
  hostFor(nodeId: number): string;
  /** The one client port (the bootstrap listener's). */
  port(): number;
}

export class BrokerMap {
  private readonly upstream = new Map<number, UpstreamAddress>();
  private readonly opened = new Set<number>();

  constructor(
    private readonly advertisedHost: string,
    private readonly brokerPortBase: number,
    private readonly listeners: BrokerListenerFactory,
    private readonly naming?: BrokerNaming,
  ) {}

  portFor(nodeId: number): number {
    if (this.naming) return this.naming.port();
    const port = this.brokerPortBase + nodeId;
    if (nodeId < 0 || port > 65535) {
      throw new Error(`broker node id ${nodeId} maps to port ${port}, outside 1-65535: lower listen.brokerPortBase`);
    }
    return port;
  }

  get host(): string { return this.advertisedHost; }

  /** The host clients are given for broker N: the advertised host, or its SNI name. */
  hostFor(nodeId: number): string { return this.naming ? this.naming.hostFor(nodeId) : this.advertisedHost; }

  /** Records a broker's upstream address and makes sure its proxy listener exists. */
  learn(nodeId: number, host: string, port: number): void {
    if (nodeId < 0) return;
    const known = this.upstream.get(nodeId);
    if (!known || known.host !== host || known.port !== port) this.upstream.set(nodeId, { host, port });
    if (!this.opened.has(nodeId) && !this.naming) {
      const proxyPort = this.portFor(nodeId);
      this.opened.add(nodeId);
      this.listeners.openBrokerListener(nodeId, proxyPort);
    }
  }

  upstreamOf(nodeId: number): UpstreamAddress | undefined { return this.upstream.get(nodeId); }

  nodeIds(): number[] { return [...this.upstream.keys()]; }
}
