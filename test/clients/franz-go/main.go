// franz-go as a client of the proxy (test/clients/franz-go.test.ts): one operation per run, through the proxy, with
// a SASL login (PLAIN or SCRAM-SHA-256), printing one JSON object on stdout:
//
//	{"op":"create","clientId":"...","ok":true,"value":{...},"apiVersionsSent":[5,4,...],"logins":2}
//
// or, when the operation failed, "ok":false and "error":{"name":"TOPIC_AUTHORIZATION_FAILED","code":29,...}.
// apiVersionsSent lists the ApiVersions request versions the client issued (franz-go opens with v5, and retries
// at the version an UNSUPPORTED_VERSION answer names); logins counts the SASL logins it began (one per
// connection). The exit code is 0 whatever the operation's outcome; 2 for bad flags.
//
// Operations: create (kadm CreateTopic), produce (-records N, synchronously), consume (in consumer group -group,
// from the earliest offset, until -records records have arrived, then commit and leave), alter-config (kadm
// incremental AlterTopicConfigs: set -config-name to -config-value), delete (kadm DeleteTopic).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

type opError struct {
	Name    string `json:"name"`
	Code    int16  `json:"code"`
	Message string `json:"message"`
}

type output struct {
	Op              string   `json:"op"`
	ClientID        string   `json:"clientId"`
	OK              bool     `json:"ok"`
	Value           any      `json:"value,omitempty"`
	Error           *opError `json:"error,omitempty"`
	APIVersionsSent []int    `json:"apiVersionsSent"`
	Logins          int      `json:"logins"`
	ElapsedMs       int64    `json:"elapsedMs"`
}

// recorder is franz-go's logger at debug level, keeping only what the test needs: the ApiVersions versions issued
// and the SASL logins begun. Everything at warn and above also goes to stderr.
type recorder struct {
	mu          sync.Mutex
	apiVersions []int
	logins      int
}

func (r *recorder) Level() kgo.LogLevel { return kgo.LogLevelDebug }

func (r *recorder) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch msg {
	case "issuing api versions request":
		for i := 0; i+1 < len(keyvals); i += 2 {
			if keyvals[i] == "version" {
				if v, ok := keyvals[i+1].(int16); ok {
					r.apiVersions = append(r.apiVersions, int(v))
				}
			}
		}
	case "beginning sasl authentication":
		r.logins++
	}
	if level <= kgo.LogLevelWarn && level != kgo.LogLevelNone {
		fmt.Fprintln(os.Stderr, level.String(), msg, fmt.Sprint(keyvals...))
	}
}

func toOpError(err error) *opError {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return &opError{Name: ke.Message, Code: ke.Code, Message: err.Error()}
	}
	return &opError{Name: "CLIENT_ERROR", Code: -1, Message: err.Error()}
}

func main() {
	bootstrap := flag.String("bootstrap", "", "host:port of the proxy")
	user := flag.String("user", "", "SASL user")
	password := flag.String("password", "", "SASL password")
	mechanism := flag.String("mechanism", "PLAIN", "PLAIN or SCRAM-SHA-256")
	op := flag.String("op", "", "create | produce | consume | alter-config | delete")
	topic := flag.String("topic", "", "topic")
	clientID := flag.String("client-id", "franz-go-test", "client id")
	partitions := flag.Int("partitions", 3, "create: partitions")
	rf := flag.Int("rf", 2, "create: replication factor")
	records := flag.Int("records", 10, "produce/consume: records")
	group := flag.String("group", "", "consume: consumer group")
	configName := flag.String("config-name", "retention.ms", "alter-config: config")
	configValue := flag.String("config-value", "3600000", "alter-config: value")
	timeout := flag.Duration("timeout", 90*time.Second, "timeout of the operation")
	flag.Parse()
	if *bootstrap == "" || *op == "" || *topic == "" {
		fmt.Fprintln(os.Stderr, "need -bootstrap, -op and -topic")
		os.Exit(2)
	}

	var mech sasl.Mechanism
	switch *mechanism {
	case "PLAIN":
		mech = plain.Auth{User: *user, Pass: *password}.AsMechanism()
	case "SCRAM-SHA-256":
		mech = scram.Auth{User: *user, Pass: *password}.AsSha256Mechanism()
	default:
		fmt.Fprintln(os.Stderr, "unknown mechanism", *mechanism)
		os.Exit(2)
	}

	rec := &recorder{}
	opts := []kgo.Opt{
		kgo.SeedBrokers(*bootstrap),
		kgo.ClientID(*clientID),
		kgo.SASL(mech),
		kgo.WithLogger(rec),
		kgo.RetryTimeout(30 * time.Second),
	}
	switch *op {
	case "produce":
		opts = append(opts, kgo.DefaultProduceTopic(*topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	case "consume":
		opts = append(opts, kgo.ConsumeTopics(*topic), kgo.ConsumerGroup(*group),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	start := time.Now()

	out := output{Op: *op, ClientID: *clientID}
	var value any
	switch *op {
	case "create":
		var res kadm.CreateTopicResponse
		res, err = adm.CreateTopic(ctx, int32(*partitions), int16(*rf), nil, *topic)
		if err == nil {
			err = res.Err
		}
		value = map[string]any{"topic": res.Topic, "partitions": res.NumPartitions, "replicationFactor": res.ReplicationFactor}
	case "produce":
		rs := make([]*kgo.Record, *records)
		for i := range rs {
			rs[i] = &kgo.Record{Key: []byte("k-" + strconv.Itoa(i)), Value: []byte("v-" + strconv.Itoa(i))}
		}
		err = cl.ProduceSync(ctx, rs...).FirstErr()
		perPartition := map[int32]int{}
		for _, r := range rs {
			perPartition[r.Partition]++
		}
		value = map[string]any{"produced": len(rs), "perPartition": perPartition}
	case "consume":
		var got []string
		for len(got) < *records && err == nil {
			fs := cl.PollFetches(ctx)
			if e := ctx.Err(); e != nil {
				err = fmt.Errorf("consumed %d of %d records: %w", len(got), *records, e)
				break
			}
			for _, fe := range fs.Errors() {
				err = fmt.Errorf("fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if err == nil {
			err = cl.CommitUncommittedOffsets(ctx)
		}
		sort.Strings(got)
		value = map[string]any{"consumed": len(got), "values": got}
	case "alter-config":
		v := *configValue
		var rs kadm.AlterConfigsResponses
		rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: *configName, Value: &v}}, *topic)
		if err == nil {
			for _, r := range rs {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		value = map[string]any{"topic": *topic, "config": *configName, "value": v}
	case "delete":
		var res kadm.DeleteTopicResponse
		res, err = adm.DeleteTopic(ctx, *topic)
		if err == nil {
			err = res.Err
		}
		value = map[string]any{"topic": *topic}
	default:
		fmt.Fprintln(os.Stderr, "unknown op", *op)
		os.Exit(2)
	}
	out.ElapsedMs = time.Since(start).Milliseconds()
	cl.Close() // a consumer leaves its group here
	out.Value = value
	out.OK = err == nil
	if err != nil {
		out.Error = toOpError(err)
	}
	rec.mu.Lock()
	out.APIVersionsSent = rec.apiVersions
	out.Logins = rec.logins
	rec.mu.Unlock()
	if out.APIVersionsSent == nil {
		out.APIVersionsSent = []int{}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}
