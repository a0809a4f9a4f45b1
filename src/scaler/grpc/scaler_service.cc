#include "scaler/grpc/scaler_service.h"

#include <algorithm>
#include <utility>

#include <grpcpp/alarm.h>

#include "core/log.h"
#include "scaler/activation.h"

namespace ballast::scaler {
namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

const Logger& logger() {
  static const Logger instance("scaler");
  return instance;
}

Metadata to_metadata(const ScaledObjectRef& ref) {
  return Metadata(ref.scalermetadata().begin(), ref.scalermetadata().end());
}

void fill_metric_spec(const TriggerSpec& spec, GetMetricSpecResponse* response) {
  auto* metric = response->add_metricspecs();
  metric->set_metricname(spec.metric_name);
  metric->set_targetsizefloat(spec.threshold);
  metric->set_targetsize(wire_value(spec.threshold).integer);
}

// Finishes a unary call and records its latency.
grpc::ServerUnaryReactor* finish_unary(ScalerService& service, grpc::CallbackServerContext* context,
                                       const char* method, const grpc::Status& status,
                                       std::chrono::steady_clock::time_point started) {
  auto* reactor = context->DefaultReactor();
  service.record(method, status.error_code(), started);
  reactor->Finish(status);
  return reactor;
}

// A server stream with at most one write in flight; a newer message replaces one still
// waiting, since only the latest state matters to KEDA. Deletes itself in OnDone.
template <typename Message>
class PushStream : public grpc::ServerWriteReactor<Message>, public OpenStream {
 public:
  PushStream(ScalerService& service, const char* method)
      : service_(service), method_(method), started_(std::chrono::steady_clock::now()) {}

  // Registers with the service; returns false (and finishes) during shutdown.
  bool open() {
    if (service_.register_stream(this)) return true;
    finish(grpc::Status::OK);
    return false;
  }

  void send(Message message) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    pending_ = std::move(message);
    if (!writing_) write_pending_locked();
  }

  void finish_ok() override { finish(grpc::Status::OK); }

  void finish(const grpc::Status& status) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    final_status_ = status;
    if (!writing_) this->Finish(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    writing_ = false;
    if (finished_) {
      this->Finish(final_status_);
      return;
    }
    if (!ok) {
      finished_ = true;
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      this->Finish(final_status_);
      return;
    }
    if (pending_) write_pending_locked();
  }

  void OnCancel() override { finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client")); }

  void OnDone() override {
    service_.unregister_stream(this);
    before_delete();
    service_.record(method_, final_status_.error_code(), started_);
    delete this;
  }

 protected:
  ScalerService& service() { return service_; }
  // Runs in OnDone before deletion, without the stream's lock held.
  virtual void before_delete() {}

 private:
  void write_pending_locked() {
    current_ = std::move(*pending_);
    pending_.reset();
    writing_ = true;
    this->StartWrite(&current_);
  }

  ScalerService& service_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mutex_;
  std::optional<Message> pending_;
  Message current_;
  bool writing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
};

// StreamIsActive: the current state at once, then activation edges as the hub publishes.
class IsActiveStream final : public PushStream<IsActiveResponse> {
 public:
  IsActiveStream(ScalerService& service, TriggerSpec spec)
      : PushStream(service, "StreamIsActive"), spec_(std::move(spec)) {}

  void start(MetricHub& hub) {
    if (!open()) return;
    {
      // Held so a listener call racing this assignment waits for it (observe() uses it).
      std::lock_guard lock(edges_mutex_);
      subscription_ = hub.subscribe(spec_.source_key, [this](const Sample& sample) { observe(sample); });
    }
    // A value published between subscribe and this read is seen twice; the edge
    // tracker drops the repeat.
    if (auto sample = service().current(spec_); sample) observe(*sample);
  }

 private:
  void observe(const Sample& sample) {
    std::optional<bool> edge;
    {
      std::lock_guard lock(edges_mutex_);
      const bool active = is_active(spec_, sample);
      edge = edges_.observe(active);
      // While KEDA was last told "inactive", sources may watch for the first new data.
      subscription_.set_awaiting_activation(!active);
    }
    if (!edge) return;
    IsActiveResponse response;
    response.set_result(*edge);
    send(std::move(response));
  }

  void before_delete() override { subscription_.reset(); }

  TriggerSpec spec_;
  std::mutex edges_mutex_;
  ActivationEdges edges_;
  MetricHub::Subscription subscription_;
};

// A GetMetrics that arrived while its key's first poll is under way (KEDA calls GetMetricSpec
// and then GetMetrics at once for a new ScaledObject): answered as soon as the source
// publishes its first value or error, or after kFirstPollWait, or just before the call's
// deadline, whichever comes first, instead of an UNAVAILABLE that KEDA counts toward its
// fallback. No thread waits: the hub and a gRPC alarm call back. Deletes itself in OnDone.
class FirstPollCall final : public grpc::ServerUnaryReactor {
 public:
  static constexpr std::chrono::milliseconds kFirstPollWait{5'000};

  FirstPollCall(ScalerService& service, TriggerSpec spec, std::string requested_name,
                externalscaler::GetMetricsResponse* response, std::chrono::steady_clock::time_point started)
      : service_(service),
        spec_(std::move(spec)),
        requested_name_(std::move(requested_name)),
        response_(response),
        started_(started),
        shared_(std::make_shared<Shared>()) {
    shared_->call = this;
  }

  void start(std::chrono::system_clock::time_point call_deadline) {
    // Weak: once the call is done the hub and the alarm may still hold these callbacks.
    const auto answer = [weak = std::weak_ptr<Shared>(shared_)] {
      if (const auto shared = weak.lock()) finish_once(*shared);
    };
    auto until = std::chrono::system_clock::now() + kFirstPollWait;
    if (call_deadline - std::chrono::milliseconds(50) < until) until = call_deadline - std::chrono::milliseconds(50);
    shared_->alarm.Set(until, [answer](bool) { answer(); });
    if (!service_.hub().when_first_polled(spec_.source_key, answer)) answer();
  }

  void OnCancel() override { finish_once(*shared_); }

  void OnDone() override {
    {
      std::lock_guard lock(shared_->mutex);
      shared_->call = nullptr;
    }
    delete this;  // the alarm goes with `shared_` once no callback holds it
  }

 private:
  // What the callbacks reach; `call` is taken by the first of them and cleared in OnDone.
  struct Shared {
    std::mutex mutex;
    FirstPollCall* call = nullptr;
    grpc::Alarm alarm;
  };

  static void finish_once(Shared& shared) {
    FirstPollCall* call = nullptr;
    {
      std::lock_guard lock(shared.mutex);
      call = std::exchange(shared.call, nullptr);
    }
    // Finish outside the lock: OnDone takes it. Only the one that took `call` gets here.
    if (call) call->finish();
  }

  void finish() {
    const auto status = service_.answer_metrics(spec_, requested_name_, response_);
    service_.record("GetMetrics", status.error_code(), started_);
    Finish(status);
  }

  ScalerService& service_;
  const TriggerSpec spec_;
  const std::string requested_name_;
  externalscaler::GetMetricsResponse* response_;
  const std::chrono::steady_clock::time_point started_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace

grpc::Status to_grpc_status(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, error.message};
    case ErrorCode::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, error.message};
    case ErrorCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, error.message};
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
    case ErrorCode::kExpired:
    case ErrorCode::kTooManyRequests:
    case ErrorCode::kIo:
    case ErrorCode::kInternal: return {grpc::StatusCode::INTERNAL, error.message};
  }
  return {grpc::StatusCode::INTERNAL, error.message};
}

ScalerService::ScalerService(MetricHub& hub, Sources sources, MetricsRegistry& metrics)
    : hub_(hub),
      sources_(std::move(sources)),
      metrics_(metrics),
      open_streams_(metrics.gauge("ballast_scaler_open_streams", "Open StreamIsActive and StreamMetricSpec streams")) {
  // The map's shape is fixed here; afterwards only the atomic slots change.
  for (const char* method : {"IsActive", "StreamIsActive", "GetMetricSpec", "GetMetrics", "StreamMetricSpec"}) {
    for (auto& slot : rpc_histograms_[method]) slot.store(nullptr);
  }
}

Result<TriggerSpec> ScalerService::resolve(const ScaledObjectRef& ref) {
  auto spec = parse_trigger(to_metadata(ref));
  if (!spec) {
    if (logger().enabled(LogLevel::kDebug)) {
      logger().debug("invalid trigger metadata", {{"scaledObject", ref.namespace_() + "/" + ref.name()},
                                                   {"error", spec.error().message}});
    }
    return spec;
  }
  if (auto watched = watch(*spec); !watched) return watched.error();
  return spec;
}

Status ScalerService::watch(const TriggerSpec& spec) {
  const auto source = sources_.find(spec.source);
  if (source == sources_.end() || source->second == nullptr) {
    return unavailable("source " + std::string(source_kind_name(spec.source)) +
                       " is not running on this ballast (see --components)");
  }
  if (hub_.track(spec.source_key, spec.source_name)) source->second->watch(spec);
  return Ok{};
}

Result<Sample> ScalerService::current(const TriggerSpec& spec) {
  return hub_.read(spec.source_key, spec.max_staleness);
}

Histogram& ScalerService::rpc_histogram(const char* method, grpc::StatusCode code) {
  static const char* const kCodeNames[kStatusCodes] = {
      "OK",        "CANCELLED",         "UNKNOWN",      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  const auto index = std::min(static_cast<size_t>(code), kStatusCodes - 1);
  auto& slot = rpc_histograms_.at(method)[index];
  Histogram* histogram = slot.load(std::memory_order_acquire);
  if (histogram == nullptr) {
    // Racing first uses resolve to the same registry entry, so either store is right.
    histogram = &metrics_.histogram("ballast_scaler_rpc_duration_seconds",
                                    "ExternalScaler RPC latency by method and gRPC status",
                                    {{"method", method}, {"code", kCodeNames[index]}}, latency_buckets_seconds());
    slot.store(histogram, std::memory_order_release);
  }
  return *histogram;
}

void ScalerService::record(const char* method, grpc::StatusCode code, std::chrono::steady_clock::time_point started) {
  rpc_histogram(method, code).observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

grpc::ServerUnaryReactor* ScalerService::IsActive(grpc::CallbackServerContext* context, const ScaledObjectRef* request,
                                                  externalscaler::IsActiveResponse* response) {
  const auto started = std::chrono::steady_clock::now();
  auto spec = resolve(*request);
  if (!spec) return finish_unary(*this, context, "IsActive", to_grpc_status(spec.error()), started);
  auto sample = current(*spec);
  if (!sample) return finish_unary(*this, context, "IsActive", to_grpc_status(sample.error()), started);
  response->set_result(is_active(*spec, *sample));
  return finish_unary(*this, context, "IsActive", grpc::Status::OK, started);
}

grpc::ServerUnaryReactor* ScalerService::GetMetricSpec(grpc::CallbackServerContext* context,
                                                       const ScaledObjectRef* request,
                                                       GetMetricSpecResponse* response) {
  const auto started = std::chrono::steady_clock::now();
  // From metadata alone: KEDA's fallback needs a spec even while every backend is down.
  auto spec = parse_trigger(to_metadata(*request));
  if (!spec) return finish_unary(*this, context, "GetMetricSpec", to_grpc_status(spec.error()), started);
  fill_metric_spec(*spec, response);
  // KEDA's GetMetrics follows at once: start the source now so its first poll is under way.
  // A source that is not running here is GetMetrics' error to report, not this call's.
  (void)watch(*spec);
  return finish_unary(*this, context, "GetMetricSpec", grpc::Status::OK, started);
}

grpc::Status ScalerService::answer_metrics(const TriggerSpec& spec, const std::string& requested_name,
                                           externalscaler::GetMetricsResponse* response) {
  auto sample = current(spec);
  if (!sample) return to_grpc_status(sample.error());
  const WireValue wire = wire_value(sample->value);
  auto* value = response->add_metricvalues();
  // KEDA labels the value with the name it asked for; echo it so tools see the same.
  value->set_metricname(requested_name.empty() ? spec.metric_name : requested_name);
  value->set_metricvalue(wire.integer);
  value->set_metricvaluefloat(wire.floating);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ScalerService::GetMetrics(grpc::CallbackServerContext* context,
                                                    const externalscaler::GetMetricsRequest* request,
                                                    externalscaler::GetMetricsResponse* response) {
  const auto started = std::chrono::steady_clock::now();
  auto spec = resolve(request->scaledobjectref());
  if (!spec) return finish_unary(*this, context, "GetMetrics", to_grpc_status(spec.error()), started);
  if (hub_.first_poll_pending(spec->source_key)) {
    auto* call = new FirstPollCall(*this, std::move(*spec), request->metricname(), response, started);
    call->start(context->deadline());
    return call;
  }
  return finish_unary(*this, context, "GetMetrics", answer_metrics(*spec, request->metricname(), response), started);
}

grpc::ServerWriteReactor<IsActiveResponse>* ScalerService::StreamIsActive(grpc::CallbackServerContext*,
                                                                         const ScaledObjectRef* request) {
  auto spec = resolve(*request);
  if (!spec) {
    auto* failed = new PushStream<IsActiveResponse>(*this, "StreamIsActive");
    if (failed->open()) failed->finish(to_grpc_status(spec.error()));
    return failed;
  }
  auto* stream = new IsActiveStream(*this, std::move(*spec));
  stream->start(hub_);
  return stream;
}

grpc::ServerWriteReactor<GetMetricSpecResponse>* ScalerService::StreamMetricSpec(grpc::CallbackServerContext*,
                                                                                const ScaledObjectRef* request) {
  auto* stream = new PushStream<GetMetricSpecResponse>(*this, "StreamMetricSpec");
  if (!stream->open()) return stream;
  auto spec = parse_trigger(to_metadata(*request));
  if (!spec) {
    stream->finish(to_grpc_status(spec.error()));
    return stream;
  }
  // Specs depend on metadata only, so the first message is also the last; the stream
  // stays open (KEDA treats its end as a reason to reconnect) until shutdown or cancel.
  GetMetricSpecResponse response;
  fill_metric_spec(*spec, &response);
  stream->send(std::move(response));
  return stream;
}

bool ScalerService::register_stream(OpenStream* stream) {
  std::lock_guard lock(streams_mutex_);
  if (shutting_down_) return false;
  streams_.insert(stream);
  open_streams_.add(1);
  return true;
}

void ScalerService::unregister_stream(OpenStream* stream) {
  std::lock_guard lock(streams_mutex_);
  if (streams_.erase(stream) > 0) open_streams_.add(-1);
}

void ScalerService::finish_streams() {
  std::lock_guard lock(streams_mutex_);
  shutting_down_ = true;
  for (auto* stream : streams_) stream->finish_ok();
}

}  // namespace ballast::scaler
