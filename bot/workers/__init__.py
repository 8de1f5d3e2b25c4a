"""Workers: the long-running loops (sender, scheduler, certificate renderer, desk linker)."""
