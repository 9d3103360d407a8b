package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCommand(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `completion prints a script that completes digitops commands and flags in your
shell. Load it once per session or install it as shown below.`,
		Example: `  # bash, this session
  source <(digitops completion bash)

  # bash, every session
  digitops completion bash > /etc/bash_completion.d/digitops

  # zsh
  digitops completion zsh > "${fpath[1]}/_digitops"

  # fish
  digitops completion fish > ~/.config/fish/completions/digitops.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(s.out, true)
			case "zsh":
				return root.GenZshCompletion(s.out)
			case "fish":
				return root.GenFishCompletion(s.out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(s.out)
			}
			return fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", args[0])
		},
	}
}
