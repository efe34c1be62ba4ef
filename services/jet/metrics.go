package jet

import (
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
	retries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chat_consumer_retries_total",
		Help: "Batches a consumer had to retry after an error.",
	}, []string{"consumer"})
)

// Progress records that consumer finished n events up to position last.
func Progress(consumer string, n int, last uint64) {
	handled.WithLabelValues(consumer).Add(float64(n))
	position.WithLabelValues(consumer).Set(float64(last))
}
