// Publishes touchpoints to Journey Telemetry from a Go service.
//
//	go build -o publish . &&
//	JOURNEY_KAFKA__BOOTSTRAP_SERVERS=broker:9092 ./publish < events.jsonl
//
// Reads one JSON event per line on stdin. Each is validated against the contract's committed
// JSON Schema (../../schemas/touchpoint.schema.json, or JOURNEY_SCHEMA_FILE) and its time limits
// before anything is sent: an invalid event is reported on stderr with the failing field and skipped (exit status 2).
// Valid events are keyed like the Python SDK's (anonymous_id when present, else customer_id) and
// placed by murmur2, as the Java client and the Python SDK place them, so one person's events stay
// in order on one partition whichever language published them. --skip-validation sends lines as
// they are: only for trying the dead-letter path.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

const maxEventBytes = 64 * 1024 // the contract's limit on one event

var english = message.NewPrinter(language.English)

func main() {
	skipValidation := flag.Bool("skip-validation", false, "send lines as they are (to try the dead-letter path)")
	flag.Parse()

	schema, err := compileSchema(envOr("JOURNEY_SCHEMA_FILE", "../../schemas/touchpoint.schema.json"))
	if err != nil {
		fail("reading the contract's JSON Schema: %v", err)
	}
	writer := &kafka.Writer{
		Addr:         kafka.TCP(strings.Split(envOr("JOURNEY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092"), ",")...),
		Topic:        os.Getenv("JOURNEY_TOPICS__PREFIX") + "touchpoints",
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 20 * time.Millisecond,
	}
	defer writer.Close()

	var messages []kafka.Message
	invalid := 0
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, maxEventBytes), maxEventBytes)
	for lineNumber := 1; scanner.Scan(); lineNumber++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		if !*skipValidation {
			if reason := problem(schema, line); reason != "" {
				invalid++
				fmt.Fprintf(os.Stderr, "invalid event on line %d: %s\n", lineNumber, reason)
				continue
			}
		}
		messages = append(messages, kafka.Message{Key: keyOf(line), Value: []byte(line)})
	}
	if err := scanner.Err(); err != nil {
		fail("reading stdin: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := writeRetrying(ctx, writer, messages); err != nil {
		fail("publishing: %v", err)
	}
	fmt.Printf("published %d event(s) to %s", len(messages), writer.Topic)
	if invalid > 0 {
		fmt.Printf(", %d invalid\n", invalid)
		os.Exit(2)
	}
	fmt.Println()
}

func compileSchema(path string) (*jsonschema.Schema, error) {
	compiler := jsonschema.NewCompiler()
	compiler.AssertFormat() // uuid and date-time are part of the contract, not hints
	return compiler.Compile(path)
}

// problem says what is wrong with one line, or "" when it is a valid touchpoint.
func problem(schema *jsonschema.Schema, line string) string {
	event, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
	if err != nil {
		return "not JSON: " + err.Error()
	}
	var invalid *jsonschema.ValidationError
	if err := schema.Validate(event); errors.As(err, &invalid) {
		return deepest(invalid)
	} else if err != nil {
		return err.Error()
	}
	return outOfTime(event.(map[string]any)["occurred_at"].(string))
}

// outOfTime applies the contract's time limits (stage 1 dead-letters an event outside them:
// time_out_of_range), from the pipeline's variables or their defaults.
func outOfTime(occurredAt string) string {
	at, err := time.Parse(time.RFC3339Nano, occurredAt)
	if err != nil {
		return "/occurred_at: " + err.Error()
	}
	maxFuture := time.Duration(envFloat("JOURNEY_CONTRACT__MAX_FUTURE_MINUTES", 60) * float64(time.Minute))
	maxAge := time.Duration(envFloat("JOURNEY_CONTRACT__MAX_AGE_DAYS", 400) * 24 * float64(time.Hour))
	switch age := time.Since(at); {
	case -age > maxFuture:
		return fmt.Sprintf("/occurred_at: more than %v from now (contract.max_future_minutes)", maxFuture)
	case age > maxAge:
		return fmt.Sprintf("/occurred_at: more than %v ago (contract.max_age_days)", maxAge)
	}
	return ""
}

// deepest names the innermost failing field, as "/event_id: ...".
func deepest(err *jsonschema.ValidationError) string {
	for len(err.Causes) > 0 {
		err = err.Causes[0]
	}
	return "/" + strings.Join(err.InstanceLocation, "/") + ": " + err.ErrorKind.LocalizedString(english)
}

func keyOf(line string) []byte {
	var ids struct {
		AnonymousID *string `json:"anonymous_id"`
		CustomerID  *string `json:"customer_id"`
	}
	if json.Unmarshal([]byte(line), &ids) != nil {
		return nil
	}
	if ids.AnonymousID != nil {
		return []byte(*ids.AnonymousID)
	}
	if ids.CustomerID != nil {
		return []byte(*ids.CustomerID)
	}
	return nil
}

// writeRetrying retries while the topic's leader is not known yet (a topic just created).
func writeRetrying(ctx context.Context, writer *kafka.Writer, messages []kafka.Message) error {
	for {
		err := writer.WriteMessages(ctx, messages...)
		if err == nil || !errors.Is(err, kafka.LeaderNotAvailable) && !errors.Is(err, kafka.UnknownTopicOrPartition) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func envFloat(name string, fallback float64) float64 {
	value, err := strconv.ParseFloat(os.Getenv(name), 64)
	if err != nil {
		return fallback
	}
	return value
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
