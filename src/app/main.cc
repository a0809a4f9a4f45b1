#include "app/cli.h"

int main(int argc, char** argv) { return ballast::app::run_cli(argc, argv); }
