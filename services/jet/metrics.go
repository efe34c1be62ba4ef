package jet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	parked = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chat_consumer_parked_total",
		Help: "Events a consumer gave up on and moved to the dead-letter stream.",
	}, []string{"consumer"})
	handled = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chat_consumer_events_total",
		Help: "Events a consumer has processed.",
	}, []string{"consumer"})
	position = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "chat_consumer_position",
		Help: "Stream position a consumer has finished with.",
	}, []string{"consumer"})
	age = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chat_consumer_event_age_seconds",
		Help:    "Time from an event's timestamp to the end of its handling by a consumer: the latency each stage adds up to.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"consumer"})
	retries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chat_consumer_retries_total",
		Help: "Batches a consumer had to retry after an error.",
	}, []string{"consumer"})
)

// Progress records that consumer finished a batch of events.
func Progress(consumer string, b Batch) {
	handled.WithLabelValues(consumer).Add(float64(len(b.Events)))
	position.WithLabelValues(consumer).Set(float64(b.Last))
	h := age.WithLabelValues(consumer)
	now := time.Now()
	for _, e := range b.Events {
		h.Observe(now.Sub(e.At).Seconds())
	}
}

// Stage is a point a posted message reaches on its way to its recipients.
// chat_stage_seconds{stage} times each from the message's ingress (its
// MessagePosted at, which its decision carries too), so the stages' shares of
// the latency show without a profiler.
type Stage int

const (
	StageIngressAppend Stage = iota // the posting is in the log
	StageModeration                 // its decision is in the log
	StageFanout                     // its deliveries are handed to the broker
)

var (
	stageSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chat_stage_seconds",
		Help:    "Time from a message's ingress to the end of a stage: ingress_append (posting appended), moderation (decision appended), fanout (deliveries handed to the broker).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 1.5, 32), // 0.1 ms … 29 s
	}, []string{"stage"})
	// Resolved once: observing a stage allocates nothing.
	stageObservers = [...]prometheus.Observer{
		StageIngressAppend: stageSeconds.WithLabelValues("ingress_append"),
		StageModeration:    stageSeconds.WithLabelValues("moderation"),
		StageFanout:        stageSeconds.WithLabelValues("fanout"),
	}
)

// StageDone records that a message that entered at ingress has passed s.
func StageDone(s Stage, ingress time.Time) {
	stageObservers[s].Observe(time.Since(ingress).Seconds())
}
