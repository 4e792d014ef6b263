from fleetdeploy.cli import main

main()
