#pragma once

namespace ballast::app {

// `ballast serve|demo|check-config|plan|probe|version`; returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace ballast::app
