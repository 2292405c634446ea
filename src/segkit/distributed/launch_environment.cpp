// The launchers' variables (torchrun, Slurm, Open MPI) read in one place, for `--shard env` and
// for joining a training process group; what a run's distributed options mean.
#include <cstdlib>
#include <optional>
#include <string>

#include "core/whole_number.h"
#include "segkit/distributed.h"
#include "segkit/error.h"

namespace segkit {

namespace {

std::optional<long> env_number(const char* name) {
  const char* v = std::getenv(name);
  return v ? whole_number(v) : std::nullopt;
}

}  // namespace

std::optional<LauncherRank> launcher_rank(const std::string& context, bool job_arrays) {
  struct Pair {
    const char *rank, *size, *base;
  };
  for (const Pair& p : {Pair{"RANK", "WORLD_SIZE", nullptr},
                        Pair{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"},
                        Pair{"SLURM_PROCID", "SLURM_NTASKS", nullptr},
                        Pair{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", nullptr}}) {
    if (!job_arrays && p.base) continue;
    if (!std::getenv(p.rank) || !std::getenv(p.size)) continue;
    const auto rank = env_number(p.rank), size = env_number(p.size);
    const auto base = p.base && std::getenv(p.base) ? env_number(p.base) : std::optional<long>(0);
    const std::string source = std::string(p.rank) + "=" + std::getenv(p.rank) + ", " + p.size + "=" + std::getenv(p.size);
    if (!rank || !size || !base || *rank < *base) fail(context, source + ": expected whole numbers");
    return LauncherRank{static_cast<int>(*rank - *base), static_cast<int>(*size), source};
  }
  return std::nullopt;
}

std::string checked_dist_url(const std::string& given, const std::string& context) {
  std::string url = given;
  if (url.rfind("tcp://", 0) == 0) url = url.substr(6);
  const size_t colon = url.rfind(':');
  const auto port = colon == std::string::npos ? std::nullopt : whole_number(url.substr(colon + 1));
  if (colon == 0 || !port || *port < 1 || *port > 65535)
    fail(context, "'" + given + "': expected tcp://HOST:PORT (a port from 1 to 65535)");
  return "tcp://" + url;
}

std::optional<DistributedOptions> distributed_from_environment() {
  const std::string context = "launcher environment";
  const auto launched = launcher_rank(context, false);
  if (!launched || launched->world_size <= 1) return std::nullopt;
  const char* addr = std::getenv("MASTER_ADDR");
  const char* port = std::getenv("MASTER_PORT");
  if (!addr || !port || !*addr)
    fail(context, launched->source + " but MASTER_ADDR and MASTER_PORT are not both set (where rank 0 listens)");
  DistributedOptions o;
  o.url = checked_dist_url(std::string(addr) + ":" + port, context + ": MASTER_ADDR/MASTER_PORT");
  o.rank = launched->rank;
  o.world_size = launched->world_size;
  if (o.rank >= o.world_size)
    fail(context, launched->source + ": the rank must be below the world size");
  const char* agent_store = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  o.launcher_hosts_store = agent_store && std::string(agent_store) == "True";
  if (const char* restarts = std::getenv("TORCHELASTIC_RESTART_COUNT"))
    o.attempt = static_cast<int>(whole_number(restarts).value_or(0));
  return o;
}

DistributedOptions resolve_distributed(const DistributedRequest& r, const DistributedRequestNames& names) {
  DistributedOptions d;
  if (r.url == "env://" || r.url.empty()) {
    auto from_env = distributed_from_environment();
    if (!from_env && r.url == "env://")
      fail(names.url + " env://", "no launcher set RANK/WORLD_SIZE, SLURM_PROCID/SLURM_NTASKS or "
                                  "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE with more than one process");
    if (!from_env && (r.rank >= 0 || r.world_size >= 0))
      fail(r.rank >= 0 ? names.rank : names.world_size, "needs " + names.url + " tcp://HOST:PORT (where rank 0 listens)");
    if (from_env) d = *from_env;
  } else {
    d.url = checked_dist_url(r.url, names.url);
    if (r.rank < 0 || r.world_size < 0) {
      const auto launched = launcher_rank(names.url, false);
      if (!launched)
        fail(names.url, "needs " + names.rank + " and " + names.world_size + " (or a launcher's RANK and WORLD_SIZE)");
      d.rank = launched->rank;
      d.world_size = launched->world_size;
    }
  }
  if (r.rank >= 0) d.rank = r.rank;
  if (r.world_size >= 0) d.world_size = r.world_size;
  d.timeout_seconds = r.timeout_seconds;
  return d;
}

}  // namespace segkit
