#include "folder_run.h"

#include <iostream>
#include <new>

#include "progress_bar.h"
#include "segkit/error.h"

namespace fs = std::filesystem;

namespace segkit::cli {

FolderRun run_folder(const std::vector<FolderFile>& files, bool quiet, const std::function<void(size_t)>& work,
                     bool stop_on_error) {
  FolderRun run;
  const ProgressBar bar(files.size(), quiet);
  auto give_up_on = [&](const std::string& what) {
    bar.finish();  // the warning starts its own line
    std::cerr << "segkit: warning: skipped " << what << "\n";
    ++run.failed;
    run.record.back().status = "failed";
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const FolderFile& f = files[i];
    bar.update(i, f.file.filename().string());
    run.record.push_back({f.file.filename().string(), f.part, "done"});
    if (!f.done_marker.empty() && fs::exists(f.done_marker)) {
      ++run.skipped;
      run.record.back().status = "skipped";
      continue;
    }
    try {
      work(i);
      ++run.done;
    } catch (const Error& e) {
      if (stop_on_error) throw;
      give_up_on(e.what());
    } catch (const std::bad_alloc&) {
      if (stop_on_error) throw;
      give_up_on(f.file.string() + ": out of memory");
    }
  }
  bar.update(files.size(), "");
  bar.finish();
  return run;
}

}  // namespace segkit::cli
