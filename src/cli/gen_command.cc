// `weir gen events`: writes a synthetic click-stream data set plus its answer key
// (gen-summary.json). See src/gen/events.h for what is generated and how it is counted.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "gen/events.h"

namespace weir::cli {

void AddGenCommand(CLI::App& app, int& exit_code) {
  CLI::App* gen = app.add_subcommand("gen", "Generate synthetic test and benchmark data");
  gen->require_subcommand(1);
  CLI::App* events = gen->add_subcommand(
      "events",
      "Marketplace click-stream events (JSON lines) with duplicates, late and malformed "
      "lines, plus manifest.txt and gen-summary.json (the exact answer key)");
  auto opt = std::make_shared<gen::GenEventsOptions>();
  events
      ->add_option("--count", opt->count,
                   "Event lines in total: valid (duplicates included) + malformed")
      ->capture_default_str();
  events->add_option("--out", opt->out_dir, "Output folder (created if missing)")->required();
  events->add_option("--files", opt->files, "Number of files")->capture_default_str();
  events->add_option("--seed", opt->seed, "Random seed; same seed and options, same bytes")
      ->capture_default_str();
  events
      ->add_option("--duplicates", opt->duplicate_share,
                   "Share of event lines repeating an earlier line")
      ->capture_default_str();
  events->add_option("--malformed", opt->malformed_share, "Share of event lines that are bad")
      ->capture_default_str();
  events->add_option("--late", opt->late_share, "Share of unique events 1-5 days late")
      ->capture_default_str();
  events->add_option("--blank", opt->blank_share, "Blank lines, as a share of --count, on top")
      ->capture_default_str();
  events->add_option("--compress", opt->compression, "Compress files: gz or zst")
      ->check(CLI::IsMember({"", "gz", "zst"}));
  events->add_option("--days", opt->days, "Days of created_at, ending 2024-06-08T00:00:00Z")
      ->capture_default_str();
  events->add_option("--event-types", opt->event_types, "Number of distinct event types")
      ->capture_default_str();
  events->add_option("--threads", opt->threads, "Generator threads (0 = all cores)")
      ->capture_default_str();
  events->callback([opt, &exit_code]() {
    Result<gen::GenEventsReport> r = gen::GenerateEvents(*opt);
    if (!r.ok()) {
      std::fprintf(stderr, "weir gen events: %s\n", r.status().ToString().c_str());
      exit_code = 1;
      return;
    }
    const gen::GenCounts& t = r->totals;
    const double mb = static_cast<double>(t.bytes) / 1e6;
    std::printf("%s\n", fmt::format("generated {} lines in {} files under {} ({:.1f} MB): {} valid "
                                    "({} duplicates, {} late), {} malformed, {} blank; {:.2f} s, "
                                    "{:.0f} events/s, {:.0f} MB/s",
                                    t.lines, r->files.size(), opt->out_dir, mb, t.valid,
                                    t.duplicates, t.late, t.malformed, t.blank, r->seconds,
                                    static_cast<double>(t.events) / std::max(r->seconds, 1e-9),
                                    mb / std::max(r->seconds, 1e-9))
                            .c_str());
    exit_code = 0;
  });
}

}  // namespace weir::cli
