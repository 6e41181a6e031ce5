"""The rehearsal's parts, one job each: the transport (pause, seek, speed, loop), the key
map, the HUD, saving a mood, and the window sink that shows it all. Hot reload is
:class:`installation.render.reload.ReloadingPipeline`; OSC is :mod:`installation.osc`.
:mod:`installation.modes.rehearse` puts them together around the runtime loop."""
