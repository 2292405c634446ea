#pragma once
// Cleaning up after a run that was killed outright (SIGKILL, power loss) while writing: the
// temporary files of write_atomically (".<name>.tmp<pid>_<n>", see files.cpp) whose process
// is gone. Called before a folder run resumes.
#include <string>

namespace segkit {

// Removes such files directly inside `folder` (not below it); returns how many. Files of a
// process that still runs are left alone. A missing folder is not an error.
int remove_stale_temporaries(const std::string& folder);

}  // namespace segkit
