#include "cli/commands.h"

int main(int argc, char** argv) { return ft::run_cli(argc, argv); }
